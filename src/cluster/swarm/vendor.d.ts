// Types for the parts of hyperswarm 4.17 and hyperdht 6.32 that Corral uses; neither package ships
// TypeScript declarations. Written from their sources (hyperswarm/index.js, hyperdht/index.js,
// dht-rpc/index.js, @hyperswarm/secret-stream/index.js); widen only as far as the code needs.

declare module 'hyperdht' {
  import { EventEmitter } from 'node:events';
  import type { Duplex } from 'node:stream';

  namespace HyperDHT {
    interface KeyPair {
      publicKey: Buffer;
      secretKey: Buffer;
    }

    interface Address {
      host: string;
      port: number;
    }

    interface Options {
      /** DHT nodes to ask first. Omitted means hyperdht's public nodes: Corral always passes it. */
      bootstrap?: Address[];
      /** UDP port; hyperdht turns 0 into 49737, and falls back to a random port unless anyPort is false. */
      port?: number;
      /** Address the UDP sockets bind to (default 0.0.0.0). */
      host?: string;
      anyPort?: boolean;
      /** false makes the node store and route records for others (a persistent node). */
      ephemeral?: boolean;
      firewalled?: boolean;
      keyPair?: KeyPair;
      /** ms between keep-alive messages on every connection this node makes or accepts (default 5000). */
      connectionKeepAlive?: number | false;
    }

    /** The encrypted connection (a NoiseSecretStream from @hyperswarm/secret-stream). */
    interface SecretStream extends Duplex {
      readonly isInitiator: boolean;
      readonly publicKey: Buffer;
      readonly remotePublicKey: Buffer;
      /** The Noise handshake hash, the same on both ends; null until the stream has opened. */
      readonly handshakeHash: Buffer | null;
      /** Resolves true once the handshake is done, false if the stream closed first. */
      readonly opened: Promise<boolean>;
      /** Sends a keep-alive message after `ms` without writes. */
      setKeepAlive(ms: number): void;
      /** Destroys the stream after `ms` without anything received. */
      setTimeout(ms: number): void;
    }

    /** Private: the record store of a persistent node (lib/persistent.js), absent on ephemeral ones. */
    interface PersistentStore {
      records: { get(target: string, max: number): Buffer[] };
    }
  }

  class HyperDHT extends EventEmitter {
    constructor(opts?: HyperDHT.Options);
    static keyPair(seed?: Buffer): HyperDHT.KeyPair;
    /** A persistent node that knows its own address `host:port` up front (dht-rpc's bootstrapper). */
    static bootstrapper(port: number, host: string, opts?: HyperDHT.Options): HyperDHT;
    readonly ephemeral: boolean;
    readonly firewalled: boolean;
    readonly destroyed: boolean;
    /** The parsed bootstrap list (dht-rpc); tests check it never holds a public node. */
    readonly bootstrapNodes: HyperDHT.Address[];
    /** Private (dht-rpc lib/io.js); only used to clean up after a failed bind. */
    readonly io?: { networkInterfaces?: { destroy?(): void } };
    /** Private (see PersistentStore); null until the node has become persistent. */
    readonly _persistent: HyperDHT.PersistentStore | null | undefined;
    /** Binds the UDP sockets; rejects when the port is taken and anyPort is false. */
    bind(): Promise<void>;
    fullyBootstrapped(): Promise<void>;
    address(): (HyperDHT.Address & { family: number }) | null;
    /** The routing table's nodes, most recently seen first. */
    toArray(): HyperDHT.Address[];
    destroy(opts?: { force?: boolean }): Promise<void>;
  }

  export = HyperDHT;
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events';
  import type HyperDHT from 'hyperdht';

  namespace Hyperswarm {
    interface Options {
      keyPair?: HyperDHT.KeyPair;
      dht?: HyperDHT;
      /** Returns true to refuse a peer; hyperswarm then marks it banned for as long as it remembers it. */
      firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean;
      /** ms before the retries of a dropped connection: [first, second, third, later] (+ jitter). */
      backoffs?: [number, number, number, number];
      jitter?: number;
      maxPeers?: number;
    }

    interface PeerInfo {
      readonly publicKey: Buffer;
      banned: boolean;
      ban(banned: boolean): void;
    }

    interface Discovery {
      /** Re-announces and looks the topic up again. */
      refresh(opts?: { client?: boolean; server?: boolean }): Promise<void>;
      flushed(): Promise<boolean>;
      destroy(): Promise<void>;
    }
  }

  class Hyperswarm extends EventEmitter {
    constructor(opts?: Hyperswarm.Options);
    readonly keyPair: HyperDHT.KeyPair;
    readonly dht: HyperDHT;
    readonly server: { refresh(): void };
    readonly connections: Set<HyperDHT.SecretStream>;
    readonly peers: Map<string, Hyperswarm.PeerInfo>;
    join(topic: Buffer, opts?: { server?: boolean; client?: boolean }): Hyperswarm.Discovery;
    /** Keeps (re)connecting to this key until leavePeer. */
    joinPeer(publicKey: Buffer): void;
    leavePeer(publicKey: Buffer): void;
    listen(): Promise<void>;
    destroy(opts?: { force?: boolean }): Promise<void>;
    on(event: 'connection', listener: (conn: HyperDHT.SecretStream, info: Hyperswarm.PeerInfo) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export = Hyperswarm;
}
