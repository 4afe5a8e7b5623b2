// The DNS server shell: one UDP socket and one TCP listener on the same address and port, each
// handing query bytes to the answerer and sending back what it says (or what an upstream says,
// for names outside the zone). A packet that breaks the answerer is logged and answered SERVFAIL;
// nothing a client sends can stop the server.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { CorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { headerOnlyReply, serverFailure, type DnsAnswerer, type Reply } from './answer';
import type { UpstreamForwarder } from './forward';
import { RCODE } from './resolve';

export interface DnsServerOptions {
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  answerer: DnsAnswerer;
  forwarder: UpstreamForwarder | undefined;
  logger: Logger;
  /** A TCP connection idle this long is closed (ms). */
  tcpIdleMs?: number;
}

const TCP_IDLE_MS = 10_000;
/** Free-port attempts when port 0 finds UDP free but TCP taken. */
const PORT_ATTEMPTS = 5;

export class DnsServer {
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly connections = new Set<TcpSocket>();
  private bound: { host: string; port: number } | undefined;

  constructor(private readonly opts: DnsServerOptions) {}

  get address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  /** Binds UDP and TCP; a port that cannot be bound is DNS_PORT_UNAVAILABLE. Idempotent. */
  async start(): Promise<{ host: string; port: number }> {
    if (this.bound) return this.bound;
    const { host } = this.opts;
    for (let attempt = 1; ; attempt++) {
      // Replies go to the address a query came from, always an IP: no lookup (and no extra tick) per send.
      const udp = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', lookup: literalAddress });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind({ address: host, port: this.opts.port, exclusive: true }, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        throw portUnavailable(host, this.opts.port, 'UDP', err);
      }
      const port = udp.address().port;
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
        udp.close();
        if (this.opts.port === 0 && attempt < PORT_ATTEMPTS) continue;
        throw portUnavailable(host, port, 'TCP', err);
      }
      udp.on('message', (msg, rinfo) => this.onDatagram(udp, msg, rinfo.address, rinfo.port));
      udp.on('error', (err) => this.opts.logger.warn({ event: 'dns_udp_error', err: err.message }, 'DNS UDP socket error'));
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
    udp?.close();
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  private reply(query: Buffer, udp: boolean): Reply {
    try {
      return this.opts.answerer.answer(query, udp);
    } catch (err) {
      this.opts.logger.error({ event: 'dns_answer_error', err }, 'answering a DNS query failed');
      return query.length >= 12 ? { kind: 'reply', packet: headerOnlyReply(query.readUInt16BE(0), query.readUInt16BE(2), RCODE.SERVFAIL) } : { kind: 'drop' };
    }
  }

  private onDatagram(socket: Socket, msg: Buffer, address: string, port: number): void {
    const reply = this.reply(msg, true);
    if (reply.kind === 'reply') socket.send(reply.packet, port, address);
    else if (reply.kind === 'forward') {
      void this.forwarded(msg, reply, false).then((packet) => {
        if (this.udp === socket) socket.send(packet, port, address);
      });
    }
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

/** dgram's lookup for addresses that are already IPs: answers at once. */
function literalAddress(address: string, _opts: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

function portUnavailable(host: string, port: number, proto: string, err: unknown): CorralError {
  const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'it is in use (another DNS server, or a second corral up?)' : (err as Error).message;
  return new CorralError('DNS_PORT_UNAVAILABLE', `Cannot serve DNS on ${host}:${port} (${proto}): ${why}. Choose another with --dns-listen HOST:PORT (port 0 picks a free one).`);
}
