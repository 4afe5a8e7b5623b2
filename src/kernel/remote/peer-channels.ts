// NodeChannels over the cluster plane's peer connections (src/cluster/swarm's ClusterSwarm): one
// channel per peer node, all multiplexed on two swarm methods. Bodies travel as JSON; a CorralError
// thrown by the far side arrives with its code.
import { CorralError, ERROR_CATALOGUE, isCorralError, type ErrorCode } from '../../shared/errors';
import type { NodeChannel } from './channel';

/** What this needs of the swarm (ClusterSwarm satisfies it). */
export interface PeerMessenger {
  request(nodeId: string, method: string, payload: Uint8Array, timeoutMs?: number): Promise<Buffer>;
  handle(method: string, handler: (from: string, payload: Buffer) => Uint8Array | Promise<Uint8Array>): () => void;
  notify(nodeId: string, method: string, payload: Uint8Array): boolean;
  onNotify(method: string, handler: (from: string, payload: Buffer) => void): () => void;
  on(event: 'peer-down', listener: (nodeId: string) => void): unknown;
  off(event: 'peer-down', listener: (nodeId: string) => void): unknown;
}

const REQUEST = 'node-rpc';
const NOTICE = 'node-rpc-notice';

interface Envelope {
  m: string;
  b: unknown;
}

class PeerChannel implements NodeChannel {
  requestHandler: ((method: string, body: unknown) => Promise<unknown> | unknown) | undefined;
  noticeHandler: ((method: string, body: unknown) => void) | undefined;
  private readonly closers: Array<() => void> = [];
  closed = false;

  constructor(
    private readonly messenger: PeerMessenger,
    readonly nodeId: string,
  ) {}

  async request(method: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    if (this.closed) throw new CorralError('AGENT_NOT_FOUND', `No connection to node ${this.nodeId.slice(0, 12)}`);
    try {
      const reply = await this.messenger.request(this.nodeId, REQUEST, encode({ m: method, b: body }), timeoutMs);
      return reply.length === 0 ? undefined : JSON.parse(reply.toString('utf8'));
    } catch (err) {
      throw fromRemote(err);
    }
  }

  notify(method: string, body: unknown): void {
    if (!this.closed) this.messenger.notify(this.nodeId, NOTICE, encode({ m: method, b: body }));
  }

  onRequest(handler: (method: string, body: unknown) => Promise<unknown> | unknown): void {
    this.requestHandler = handler;
  }

  onNotify(handler: (method: string, body: unknown) => void): void {
    this.noticeHandler = handler;
  }

  onClose(handler: () => void): void {
    this.closers.push(handler);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closers) h();
  }
}

/**
 * The channels of one node. `channel(nodeId)` opens one to dial; a peer that speaks first gets
 * one too, announced through `onIncoming`. A channel closes when its peer's last connection does;
 * the next message from that peer opens a new one.
 */
export class PeerChannels {
  private readonly channels = new Map<string, PeerChannel>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly down = (nodeId: string) => this.drop(nodeId);

  constructor(
    private readonly messenger: PeerMessenger,
    private readonly onIncoming: (channel: NodeChannel, nodeId: string) => void = () => {},
  ) {
    this.unsubscribe.push(
      messenger.handle(REQUEST, async (from, payload) => {
        const { m, b } = decode(payload);
        const handler = this.get(from).requestHandler;
        if (!handler) throw new CorralError('AGENT_NOT_FOUND', `Node ${from.slice(0, 12)} sent '${m}' before anything here serves it`);
        return encode(await handler(m, b));
      }),
      messenger.onNotify(NOTICE, (from, payload) => {
        const { m, b } = decode(payload);
        this.get(from).noticeHandler?.(m, b);
      }),
    );
    messenger.on('peer-down', this.down);
  }

  channel(nodeId: string): NodeChannel {
    return this.get(nodeId, false);
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    this.messenger.off('peer-down', this.down);
    for (const id of [...this.channels.keys()]) this.drop(id);
  }

  private get(nodeId: string, incoming = true): PeerChannel {
    let channel = this.channels.get(nodeId);
    if (!channel) {
      channel = new PeerChannel(this.messenger, nodeId);
      this.channels.set(nodeId, channel);
      if (incoming) this.onIncoming(channel, nodeId);
    }
    return channel;
  }

  private drop(nodeId: string): void {
    const channel = this.channels.get(nodeId);
    this.channels.delete(nodeId);
    channel?.close();
  }
}

function encode(value: unknown): Uint8Array {
  return value === undefined ? new Uint8Array(0) : Buffer.from(JSON.stringify(value), 'utf8');
}

function decode(payload: Buffer): Envelope {
  const parsed = JSON.parse(payload.toString('utf8')) as Envelope;
  if (typeof parsed?.m !== 'string') throw new CorralError('INVALID_REQUEST', 'Malformed node RPC message');
  return parsed;
}

/** A swarm failure as the caller's error: the responder's CorralError code when it sent one. */
function fromRemote(err: unknown): Error {
  if (isCorralError(err)) return err;
  const e = err as { code?: string; message?: string; reason?: string };
  if (e.code && isErrorCode(e.code)) return new CorralError(e.code, e.message ?? '');
  return new CorralError('AGENT_NOT_FOUND', `Node RPC failed (${e.reason ?? 'error'}): ${e.message ?? String(err)}`);
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}
