// A tiny DNS client for tests: one query over UDP or TCP, the reply decoded (or undefined on timeout).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { decode, encode, type DecodedPacket } from 'dns-packet';

export function dnsQuery(name: string, type: string, id = 4242): Buffer {
  return encode({ type: 'query', id, flags: 1 << 8, questions: [{ name, type: type as 'A' }] });
}

export function udpExchange(port: number, packet: Buffer, timeoutMs = 2000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => done(undefined), timeoutMs);
    function done(reply: Buffer | undefined) {
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    }
    socket.on('message', (msg) => done(msg));
    socket.on('error', () => done(undefined));
    socket.send(packet, port, host);
  });
}

/** Sends `frames` (already length-prefixed or not: `raw`) over one TCP connection; collects `expect` replies. */
export function tcpExchange(port: number, packets: Buffer[], opts: { expect?: number; split?: boolean; timeoutMs?: number } = {}): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const replies: Buffer[] = [];
    let got = Buffer.alloc(0) as Buffer;
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => done(), opts.timeoutMs ?? 2000);
    function done() {
      clearTimeout(timer);
      socket.destroy();
      resolve(replies);
    }
    socket.on('error', () => done());
    socket.on('connect', () => {
      const wire = Buffer.concat(packets.map((p) => Buffer.concat([Buffer.from([p.length >> 8, p.length & 0xff]), p])));
      if (!opts.split) socket.write(wire);
      else for (let i = 0; i < wire.length; i++) socket.write(wire.subarray(i, i + 1));
    });
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        replies.push(got.subarray(2, 2 + got.readUInt16BE(0)));
        got = got.subarray(2 + got.readUInt16BE(0));
      }
      if (replies.length >= (opts.expect ?? packets.length)) done();
    });
  });
}

export async function resolveUdp(port: number, name: string, type: string): Promise<DecodedPacket | undefined> {
  const reply = await udpExchange(port, dnsQuery(name, type));
  return reply && decode(reply);
}
