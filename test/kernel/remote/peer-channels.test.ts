// PeerChannels over a fake two-node messenger: routing by peer, incoming channels, error codes
// across the link, and a channel closing when its peer goes down.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { CorralError } from '../../../src/shared/errors';
import { PeerChannels, type PeerMessenger } from '../../../src/kernel/remote/peer-channels';
import type { NodeChannel } from '../../../src/kernel/remote/channel';

type RequestHandler = (from: string, p: Buffer) => Uint8Array | Promise<Uint8Array>;
type NoticeHandler = (from: string, p: Buffer) => void;

/** One side of two messengers wired to each other, like two ClusterSwarms with one connection. */
class FakeMessenger extends EventEmitter implements PeerMessenger {
  readonly requests = new Map<string, RequestHandler>();
  readonly notices = new Map<string, NoticeHandler>();
  peer!: FakeMessenger;
  constructor(readonly self: string) {
    super();
  }
  async request(_node: string, method: string, payload: Uint8Array): Promise<Buffer> {
    try {
      return Buffer.from(await this.peer.requests.get(method)!(this.self, Buffer.from(payload)));
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { reason: 'remote-error', code: (err as CorralError).code });
    }
  }
  handle(method: string, h: RequestHandler): () => void {
    this.requests.set(method, h);
    return () => this.requests.delete(method);
  }
  notify(_node: string, method: string, payload: Uint8Array): boolean {
    queueMicrotask(() => this.peer.notices.get(method)?.(this.self, Buffer.from(payload)));
    return true;
  }
  onNotify(method: string, h: NoticeHandler): () => void {
    this.notices.set(method, h);
    return () => this.notices.delete(method);
  }
}

function messengerPair(): [FakeMessenger, FakeMessenger] {
  const a = new FakeMessenger('a'.repeat(64));
  const b = new FakeMessenger('b'.repeat(64));
  a.peer = b;
  b.peer = a;
  return [a, b];
}

t.test('requests, notices and errors travel per peer; a peer going down closes its channel', async (t) => {
  const [ma, mb] = messengerPair();
  const incoming: Array<[NodeChannel, string]> = [];
  const agentSide = new PeerChannels(ma);
  const masterSide = new PeerChannels(mb, (channel, nodeId) => {
    incoming.push([channel, nodeId]);
    channel.onRequest((method, body) => {
      if (method === 'fail') throw new CorralError('TASK_NOT_FOUND', 'no such task');
      return { echo: body, method };
    });
    channel.onNotify((method, body) => notices.push([method, body]));
  });
  const notices: Array<[string, unknown]> = [];
  const toMaster = agentSide.channel('b'.repeat(64));
  t.same(await toMaster.request('hello', { n: 1 }), { echo: { n: 1 }, method: 'hello' });
  t.equal(incoming.length, 1, 'the first message from a peer opens a channel on the other side');
  t.equal(incoming[0]![1], 'a'.repeat(64));
  await t.rejects(toMaster.request('fail', {}), { code: 'TASK_NOT_FOUND', message: 'no such task' });
  toMaster.notify('status', { s: 'RUNNING' });
  await new Promise((r) => setImmediate(r));
  t.same(notices, [['status', { s: 'RUNNING' }]]);

  let closed = false;
  incoming[0]![0].onClose(() => (closed = true));
  mb.emit('peer-down', 'a'.repeat(64));
  t.ok(closed, 'peer-down closes the channel');
  await toMaster.request('again', null);
  t.equal(incoming.length, 2, 'the next message opens a fresh one');
  agentSide.close();
  masterSide.close();
});
