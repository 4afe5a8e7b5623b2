// The process table as the posix backend sees it: every /proc/<pid>/stat, parsed. One scan serves
// all containers for a short while, because the agent samples every task each second and a scan
// reads one file per process on the node.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { parseProcStat, parseVmRssBytes, type ProcStat } from './formats';

/** How long one scan serves callers that accept a snapshot, in ms. */
export const SNAPSHOT_MAX_AGE_MS = 250;

interface Snapshot {
  /** Date.now() when the scan started: it holds every process that existed before then. */
  at: number;
  procs: ProcStat[];
}

export class ProcessTable {
  private last: Snapshot | undefined;
  private inflight: Promise<Snapshot> | undefined;

  constructor(
    private readonly procRoot = '/proc',
    private readonly maxAgeMs = SNAPSHOT_MAX_AGE_MS,
  ) {}

  /**
   * Live (not zombie) members of process group `pgid`, from a scan that started after `after`
   * (Date.now() ms; a scan in the same millisecond might predate it) and is at most maxAgeMs old.
   * Pass Date.now() for a fresh scan.
   */
  async group(pgid: number, after: number): Promise<ProcStat[]> {
    const snap = await this.snapshot(after);
    return snap.procs.filter((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X');
  }

  /** Resident set size of `pid` in bytes; 0 when it is gone or has none. */
  async rssBytes(pid: number): Promise<number> {
    try {
      return parseVmRssBytes(await fsp.readFile(join(this.procRoot, String(pid), 'status'), 'utf8')) ?? 0;
    } catch {
      return 0;
    }
  }

  private async snapshot(after: number): Promise<Snapshot> {
    const last = this.last;
    if (last && last.at > after && Date.now() - last.at <= this.maxAgeMs) return last;
    // A scan already running serves only callers whose bound it meets.
    const running = this.inflight;
    if (running) {
      const snap = await running;
      if (snap.at > after) return snap;
    }
    const scan = this.scan().finally(() => {
      if (this.inflight === scan) this.inflight = undefined;
    });
    this.inflight = scan;
    return scan;
  }

  private async scan(): Promise<Snapshot> {
    const at = Date.now();
    const names = (await fsp.readdir(this.procRoot)).filter((n) => /^\d+$/.test(n));
    const stats = await Promise.all(
      names.map((n) => fsp.readFile(join(this.procRoot, n, 'stat'), 'utf8').then(parseProcStat, () => undefined)),
    );
    const snap = { at, procs: stats.filter((s): s is ProcStat => s !== undefined) };
    if (!this.last || this.last.at <= at) this.last = snap;
    return snap;
  }
}
