// Free ports on loopback for daemons a test starts (a bound-then-closed port is free for a moment;
// good enough on a machine whose other tests also ask the kernel for port 0).
import { createSocket } from 'node:dgram';

/** A UDP port on 127.0.0.1 that nothing listens on right now (e.g. a master's cluster port). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((res) => socket.bind(0, '127.0.0.1', res));
  const { port } = socket.address();
  await new Promise<void>((res) => socket.close(() => res()));
  return port;
}
