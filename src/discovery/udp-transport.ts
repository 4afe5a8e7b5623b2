// The DNS server's UDP side behind one interface: the native batch socket (native/corral-udp.c,
// recvmmsg/sendmmsg, one JS call per batch of up to 64 datagrams) when its addon is built, else
// Node's dgram socket (one JS call and one send per datagram). The server hands each datagram to a
// handler and sends back what it returns; a reply that comes later (a forwarded name) goes through
// `replyLater`, asked for while the datagram is being handled.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { CorralError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { loadUdpAddon, type UdpAddon, type UdpAddonSocket, type UdpStats } from './udp-native';

export type { UdpStats };

export type UdpMode = 'auto' | 'native' | 'dgram';

/** Datagram `msg` (a view valid only during the call: copy what is kept) → the reply now, or nothing. */
export type DatagramHandler = (msg: Buffer, index: number) => Buffer | undefined;

export interface UdpTransport {
  readonly kind: 'native' | 'dgram';
  readonly port: number;
  /** Only while datagram `index` is being handled: sends one later reply to its sender (nothing once closed). */
  replyLater(index: number): (packet: Buffer) => void;
  stats(): UdpStats;
  /** Resolves once the socket is closed (its port free again). Idempotent. */
  close(): Promise<void>;
}

/** Binds `host:port` (0: a free port). Bind errors are thrown as they come, with their errno `code`. */
export async function openUdp(mode: UdpMode, host: string, port: number, handler: DatagramHandler, logger: Logger): Promise<UdpTransport> {
  if (mode !== 'dgram') {
    const addon = loadUdpAddon();
    if (addon) return new NativeUdpTransport(addon, host, port, handler, logger);
    if (mode === 'native') throw new CorralError('INTERNAL', 'The native UDP transport was asked for, but dist/corral-udp.node is not built (node scripts/build-native.mjs).');
  }
  return DgramUdpTransport.open(host, port, handler, logger);
}

/** The DNS server's UDP over the addon: one handler call per datagram, one JS call per batch. */
class NativeUdpTransport implements UdpTransport {
  readonly kind = 'native';
  readonly port: number;
  private readonly socket: UdpAddonSocket;
  /** The batch's replies, reused from batch to batch (the addon reads entries [0, count)). */
  private readonly replies: (Buffer | undefined)[] = [];
  private closed: Promise<void> | undefined;

  constructor(addon: UdpAddon, host: string, port: number, handler: DatagramHandler, logger: Logger) {
    const slot = addon.SLOT;
    const replies = this.replies;
    const socket = new addon.UdpSocket(host, port, (count) => {
      const { data, lengths } = socket;
      replies.length = count;
      for (let i = 0; i < count; i++) {
        const length = lengths[i]!;
        replies[i] = undefined;
        if (length < 0) continue;
        try {
          replies[i] = handler(data.subarray(i * slot, i * slot + length), i);
        } catch (err) {
          // The server's handler catches its own errors; this keeps one bad datagram from costing the batch.
          logger.error({ event: 'dns_udp_handler_error', err }, 'handling a DNS datagram failed');
        }
      }
      return replies;
    });
    this.socket = socket;
    this.port = socket.port;
  }

  replyLater(index: number): (packet: Buffer) => void {
    const peer = this.socket.peer(index);
    return (packet) => {
      if (!this.closed) this.socket.sendTo(packet, peer);
    };
  }

  stats(): UdpStats {
    return this.socket.stats();
  }

  close(): Promise<void> {
    return (this.closed ??= new Promise((resolve) => this.socket.close(resolve)));
  }
}

/** Node's dgram socket: one `message` event and one `send` per datagram. */
class DgramUdpTransport implements UdpTransport {
  readonly kind = 'dgram';
  private current: RemoteInfo | undefined;
  private closed: Promise<void> | undefined;
  private counts: UdpStats = { received: 0, answered: 0, dropped: 0 };

  private constructor(private readonly socket: Socket, readonly port: number, handler: DatagramHandler, logger: Logger) {
    socket.on('message', (msg, rinfo) => {
      this.counts.received++;
      this.current = rinfo;
      let reply: Buffer | undefined;
      try {
        reply = handler(msg, 0);
      } finally {
        this.current = undefined;
      }
      if (reply) this.send(reply, rinfo);
    });
    socket.on('error', (err) => logger.warn({ event: 'dns_udp_error', err: err.message }, 'DNS UDP socket error'));
  }

  static async open(host: string, port: number, handler: DatagramHandler, logger: Logger): Promise<DgramUdpTransport> {
    // Replies go to the address a query came from, always an IP: no lookup (and no extra tick) per send.
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', lookup: literalAddress });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: host, port, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    return new DgramUdpTransport(socket, socket.address().port, handler, logger);
  }

  private send(packet: Buffer, to: RemoteInfo): void {
    this.counts.answered++;
    this.socket.send(packet, to.port, to.address);
  }

  replyLater(_index: number): (packet: Buffer) => void {
    const to = this.current;
    if (!to) throw new Error('replyLater: only while a datagram is handled');
    return (packet) => {
      if (!this.closed) this.send(packet, to);
    };
  }

  stats(): UdpStats {
    return { ...this.counts };
  }

  close(): Promise<void> {
    return (this.closed ??= new Promise((resolve) => this.socket.close(() => resolve())));
  }
}

/** dgram's lookup for addresses that are already IPs: answers at once. */
function literalAddress(address: string, _opts: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}
