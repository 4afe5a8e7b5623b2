// What the membership protocol needs from the network, and nothing more (after memberlist's
// transport.go). Two implementations: MockNetwork's in-memory transport (tests, simulations) and
// the hyperswarm adapter, whose connections are already authenticated with the cluster token.
//
// Addresses are opaque strings; in production a node's address is its node id (the hex ed25519
// public key) and the adapter dials it with swarm.joinPeer.

/**
 * What travels. The membership core sends plain JSON-safe objects (membership/wire.ts); an
 * in-process transport may hand them over as they are, a network transport sends
 * `encodeMessage(obj)` and delivers the received bytes. The core accepts either on receipt.
 */
export type Payload = Uint8Array | object;

/** Receives one datagram; `from` is the sender's address as the transport authenticated it. */
export type MessageHandler = (from: string, payload: Payload) => void;

/** Answers one request; a throw or rejection fails the requester's promise. */
export type RequestHandler = (from: string, payload: Payload) => Payload | Promise<Payload>;

export interface Transport {
  /** This node's address as its peers reach it. */
  readonly localAddress: string;

  /**
   * Best effort, like a UDP datagram: the message may be lost, delayed or reordered, and an
   * unreachable peer is not an error. Never throws for network reasons and never blocks. Payloads
   * stay below the membership's maxPacketBytes (1,400 by default).
   */
  send(to: string, payload: Payload): void;

  /** Registers the receiver of datagrams. Returns a function that removes it. */
  onMessage(handler: MessageHandler): () => void;

  /**
   * One reliable request/response exchange over a stream (push-pull; payloads can be large, about
   * 250 bytes per member). Resolves with the responder's answer; rejects with a TransportError when
   * the peer cannot be reached, has no responder, fails, or does not answer within `timeoutMs`.
   */
  request(to: string, payload: Payload, timeoutMs: number): Promise<Payload>;

  /** Registers the responder to requests (one per transport). Returns a function that removes it. */
  onRequest(handler: RequestHandler): () => void;
}

export type TransportFailure = 'timeout' | 'unreachable' | 'no-responder' | 'remote-error' | 'closed';

/**
 * A failed request. It never reaches a person or a client (the membership core counts it and moves
 * on), which is why it is not a CorralError with a catalogue code.
 */
export class TransportError extends Error {
  constructor(
    readonly reason: TransportFailure,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}
