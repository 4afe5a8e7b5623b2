// Forwarding of names outside the zone to the configured upstream resolvers: over UDP with a fresh
// random query id per attempt (the reply must come from the upstream asked, with that id), the next
// upstream after a timeout, and over TCP when the client asked over TCP and the UDP answer was
// truncated. Undefined when no upstream answered (the server replies SERVFAIL).
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import type { Clock, TimerHandle } from '../shared/clock';
import type { Logger } from '../shared/logger';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  clock: Clock;
  logger: Logger;
  /** How long one upstream gets to answer before the next is asked (ms). */
  timeoutMs?: number;
}

interface Pending {
  upstream: Upstream;
  resolve: (reply: Buffer | undefined) => void;
  timer: TimerHandle;
}

const DEFAULT_TIMEOUT_MS = 2000;

/** `IPv4[:PORT]`, `IPv6` or `[IPv6]:PORT` (port 53 by default); undefined when malformed. Names are not taken: a reply is matched by the address it comes from. */
export function parseUpstream(raw: string): Upstream | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:\s]+)(?::(\d+))?$/.exec(raw) ?? /^([0-9a-fA-F:]+)()$/.exec(raw);
  if (!m || isIP(m[1]!) === 0) return undefined;
  const port = m[2] ? Number(m[2]) : 53;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

export class UpstreamForwarder {
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private readonly pending = new Map<number, Pending>();
  private stopped = false;

  constructor(private readonly opts: ForwarderOptions) {}

  get enabled(): boolean {
    return this.opts.upstreams.length > 0;
  }

  /** The upstream's reply to `query` (its id restored), or undefined when none answered in time. */
  async forward(query: Buffer, tcp: boolean): Promise<Buffer | undefined> {
    for (const upstream of this.opts.upstreams) {
      if (this.stopped) return undefined;
      const reply = await this.viaUdp(query, upstream);
      if (!reply) continue;
      // TC: the client came over TCP and can take the whole answer.
      if (tcp && reply.length >= 4 && reply[2]! & 0x02) return (await this.viaTcp(query, upstream)) ?? reply;
      return reply;
    }
    return undefined;
  }

  stop(): void {
    this.stopped = true;
    for (const [id, p] of this.pending) {
      p.timer.cancel();
      p.resolve(undefined);
      this.pending.delete(id);
    }
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socketFor(family: 'udp4' | 'udp6'): Socket {
    let socket = this.sockets.get(family);
    if (socket) return socket;
    socket = createSocket(family);
    socket.on('message', (msg, rinfo) => this.onReply(msg, rinfo.address, rinfo.port));
    socket.on('error', (err) => this.opts.logger.warn({ event: 'dns_forward_socket_error', err: err.message }, 'upstream socket error'));
    this.sockets.set(family, socket);
    return socket;
  }

  private viaUdp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      let id: number;
      do id = randomBytes(2).readUInt16BE(0);
      while (this.pending.has(id));
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = this.opts.clock.setTimeout(() => {
        this.pending.delete(id);
        this.opts.logger.debug({ event: 'dns_forward_timeout', upstream: `${upstream.host}:${upstream.port}` }, 'upstream did not answer');
        resolve(undefined);
      }, this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      this.pending.set(id, { upstream, timer, resolve: (reply) => resolve(reply && restoreId(reply, query)) });
      this.socketFor(upstream.host.includes(':') ? 'udp6' : 'udp4').send(out, upstream.port, upstream.host, (err) => {
        if (!err) return;
        timer.cancel();
        this.pending.delete(id);
        resolve(undefined);
      });
    });
  }

  private onReply(msg: Buffer, address: string, port: number): void {
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const p = this.pending.get(id);
    // Only the upstream asked may answer (anything else could be a spoofed reply).
    if (!p || p.upstream.port !== port || !sameHost(p.upstream.host, address)) return;
    this.pending.delete(id);
    p.timer.cancel();
    p.resolve(msg);
  }

  private viaTcp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const socket = connect({ host: upstream.host, port: upstream.port });
      let got: Buffer = Buffer.alloc(0);
      const done = (reply: Buffer | undefined) => {
        timer.cancel();
        socket.destroy();
        resolve(reply);
      };
      const timer = this.opts.clock.setTimeout(() => done(undefined), this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      socket.on('error', () => done(undefined));
      socket.on('connect', () => {
        const frame = Buffer.allocUnsafe(query.length + 2);
        frame.writeUInt16BE(query.length, 0);
        query.copy(frame, 2);
        socket.write(frame);
      });
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(got.subarray(2, 2 + got.readUInt16BE(0)));
      });
      socket.on('end', () => done(undefined));
    });
  }
}

function restoreId(reply: Buffer, query: Buffer): Buffer {
  reply.writeUInt16BE(query.readUInt16BE(0), 0);
  return reply;
}

function sameHost(configured: string, seen: string): boolean {
  return configured === seen || seen === `::ffff:${configured}`;
}
