// A `corral up` that a test kills with SIGKILL and starts again over the same data dir (the cron
// crash tests), with a JSON API caller that always talks to the current process.
import { isAlive, startCorral, waitFor, type RunningCorral } from './corral-process';

export interface Outage {
  /** When the killed process was gone. */
  downAt: number;
  /** When the new one was started, and when it answered. */
  restartAt: number;
  upAt: number;
}

export class CrashableCorral {
  private current: RunningCorral | undefined;

  constructor(readonly dataDir: string) {}

  /** Starts `corral up` (stopping the one running, if any). */
  async start(): Promise<void> {
    await this.current?.stop();
    this.current = await startCorral(this.dataDir);
  }

  /** `method path` with a JSON body; the parsed JSON answer (undefined when empty). */
  readonly api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const corral = this.current!;
    const res = await fetch(corral.url + path, { method, headers: { authorization: `Bearer ${corral.token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };

  /** SIGKILL, `downMs` with no corral at all, then a new `corral up` over the same data dir. */
  async killAndRestart(downMs: number): Promise<Outage> {
    const pid = this.current!.proc.pid!;
    this.current!.proc.kill('SIGKILL');
    await waitFor('corral up to die', 10_000, () => (isAlive(pid) ? undefined : true));
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, downMs));
    const restartAt = Date.now();
    this.current = await startCorral(this.dataDir);
    return { downAt, restartAt, upAt: Date.now() };
  }

  async stop(): Promise<void> {
    await this.current?.stop();
  }
}
