// The DNS server shell: one UDP socket and one TCP listener on the same address and port, each
// handing query bytes to the answerer and sending back what it says (or what an upstream says,
// for names outside the zone). A packet that breaks the answerer is logged and answered SERVFAIL;
// nothing a client sends can stop the server. UDP goes through the native batch socket when it is
// built, else Node's dgram (udp-transport.ts); both behave the same.
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { CorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { headerOnlyReply, serverFailure, type DnsAnswerer, type Reply } from './answer';
import type { UpstreamForwarder } from './forward';
import { RCODE } from './resolve';
import { openUdp, type UdpMode, type UdpStats, type UdpTransport } from './udp-transport';

export interface DnsServerOptions {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  answerer: DnsAnswerer;
  forwarder: UpstreamForwarder | undefined;
  logger: Logger;
  /** A TCP connection idle this long is closed (ms). */
  tcpIdleMs?: number;
  /** UDP transport: `native` (native/corral-udp.c), `dgram` (Node's), `auto` (native when built; the default). */
  udp?: UdpMode;
}

const TCP_IDLE_MS = 10_000;
/** Free-port attempts when port 0 finds UDP free but TCP taken. */
const PORT_ATTEMPTS = 5;

export class DnsServer {
  private udp: UdpTransport | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();
  private bound: { host: string; port: number } | undefined;

  constructor(private readonly opts: DnsServerOptions) {}

  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  /** The UDP transport in use and its counters, while started. */
  get udpTransport(): { kind: UdpTransport['kind']; stats: UdpStats } | undefined {
    return this.udp && { kind: this.udp.kind, stats: this.udp.stats() };
  }

  /** Binds UDP and TCP; a port that cannot be bound is DNS_PORT_UNAVAILABLE. Idempotent. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.bound) return this.bound;
    const { host } = this.opts;
    for (let attempt = 1; ; attempt++) {
      let udp: UdpTransport;
      try {
        udp = await openUdp(this.opts.udp ?? 'auto', host, this.opts.port, (msg, index) => this.onDatagram(udp, msg, index), this.opts.logger);
      } catch (err) {
        if (err instanceof CorralError) throw err;
        throw portUnavailable(host, this.opts.port, 'UDP', err);
      }
      const port = udp.port;
      const tcp = createServer((conn) => this.onConnection(conn));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host, port, exclusive: true }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        await udp.close();
        if (this.opts.port === 0 && attempt < PORT_ATTEMPTS) continue;
        throw portUnavailable(host, port, 'TCP', err);
      }
      this.opts.logger.debug({ event: 'dns_udp_transport', transport: udp.kind }, `DNS over UDP through ${udp.kind === 'native' ? 'the native batch socket' : "Node's dgram"}`);
      tcp.on('error', (err) => this.opts.logger.warn({ event: 'dns_tcp_error', err: err.message }, 'DNS TCP listener error'));
      this.udp = udp;
      this.tcp = tcp;
      this.bound = { host, port };
      return this.bound;
    }
  }

  async stop(): Promise<void> {
    const { udp, tcp } = this;
    this.udp = undefined;
    this.tcp = undefined;
    this.bound = undefined;
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await Promise.all([udp?.close(), tcp && new Promise<void>((resolve) => tcp.close(() => resolve()))]);
  }

  private reply(query: Buffer, udp: boolean): Reply {
    try {
      return this.opts.answerer.answer(query, udp);
    } catch (err) {
      this.opts.logger.error({ event: 'dns_answer_error', err }, 'answering a DNS query failed');
      return query.length >= 12 ? { kind: 'reply', packet: headerOnlyReply(query.readUInt16BE(0), query.readUInt16BE(2), RCODE.SERVFAIL) } : { kind: 'drop' };
    }
  }

  /** `msg` is only valid during the call (the native socket reuses its buffer): a forwarded query is copied. */
  private onDatagram(udp: UdpTransport, msg: Buffer, index: number): Buffer | undefined {
    const reply = this.reply(msg, true);
    if (reply.kind === 'reply') return reply.packet;
    if (reply.kind === 'forward') {
      const send = udp.replyLater(index);
      void this.forwarded(Buffer.from(msg), reply, false).then((packet) => {
        if (this.udp === udp) send(packet);
      });
    }
    return undefined;
  }

  private async forwarded(msg: Buffer, reply: Extract<Reply, { kind: 'forward' }>, tcp: boolean): Promise<Buffer> {
    const answer = await this.opts.forwarder?.forward(msg, tcp).catch(() => undefined);
    return answer ?? serverFailure(reply.query);
  }

  /** DNS over TCP: each message is prefixed with its length (2 bytes); several may be in flight. */
  private onConnection(conn: TcpSocket): void {
    this.connections.add(conn);
    let pending: Buffer = Buffer.alloc(0);
    conn.setTimeout(this.opts.tcpIdleMs ?? TCP_IDLE_MS, () => conn.destroy());
    conn.on('error', () => conn.destroy());
    conn.on('close', () => this.connections.delete(conn));
    const send = (packet: Buffer) => {
      if (conn.destroyed) return;
      const frame = Buffer.allocUnsafe(packet.length + 2);
      frame.writeUInt16BE(packet.length, 0);
      packet.copy(frame, 2);
      conn.write(frame);
    };
    conn.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const msg = Buffer.from(pending.subarray(2, 2 + length));
        pending = pending.subarray(2 + length);
        const reply = this.reply(msg, false);
        if (reply.kind === 'reply') send(reply.packet);
        else if (reply.kind === 'forward') void this.forwarded(msg, reply, true).then(send);
      }
    });
  }
}

function portUnavailable(host: string, port: number, proto: string, err: unknown): CorralError {
  const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'it is in use (another DNS server, or a second corral up?)' : (err as Error).message;
  return new CorralError('DNS_PORT_UNAVAILABLE', `Cannot serve DNS on ${host}:${port} (${proto}): ${why}. Choose another with --dns-listen HOST:PORT (port 0 picks a free one).`);
}
