// The one door to cluster state: a versioned key-value store in the style of etcd v3.
// Keys are '/'-separated strings; values are JSON-serialisable. Every successful write bumps the
// store-wide revision by one (a transaction is one revision however many keys it touches).
// All methods are async so that the etcd implementation can satisfy the same interface.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface KvEntry<V = JsonValue> {
  key: string;
  value: V;
  /** Revision of the write that created this key (since it last did not exist). */
  createRevision: number;
  /** Revision of the last write to this key. */
  modRevision: number;
  /** Number of writes since creation, starting at 1. */
  version: number;
}

export interface PutOptions {
  /**
   * Compare-and-set: the write happens only if the key's modRevision equals this number.
   * 0 means "the key must not exist". A mismatch throws CorralError REVISION_CONFLICT.
   */
  expectedRevision?: number;
}

export type Compare =
  | { key: string; target: 'modRevision'; op: '=' | '<' | '>' | '!='; value: number }
  | { key: string; target: 'exists'; value: boolean };

export type TxnOp =
  | { type: 'put'; key: string; value: JsonValue }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface TxnRequest {
  /** All must hold for `success` to run; otherwise `failure` runs. */
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  revision: number;
}

export interface WatchEvent<V = JsonValue> {
  type: 'put' | 'delete';
  key: string;
  /** New value for put; undefined for delete. */
  value: V | undefined;
  revision: number;
}

export interface WatchOptions {
  /** Replay retained events with revision > fromRevision before live ones. Throws STORE_COMPACTED if older history was pruned. */
  fromRevision?: number;
}

/** Values given to put and txn are serialised when the call is made: the caller may change its objects afterwards. */
export interface Store {
  /** Current store-wide revision (0 for an empty, never-written store). */
  revision(): Promise<number>;
  get<V = JsonValue>(key: string): Promise<KvEntry<V> | undefined>;
  /** Returns the new store revision. */
  put(key: string, value: JsonValue, opts?: PutOptions): Promise<number>;
  /** Returns true if the key existed. expectedRevision as for put. */
  delete(key: string, opts?: PutOptions): Promise<boolean>;
  /** Entries whose key starts with `prefix`, sorted by key. */
  list<V = JsonValue>(prefix: string): Promise<KvEntry<V>[]>;
  txn(req: TxnRequest): Promise<TxnResult>;
  /**
   * Calls `onEvent` for every change to a key under `prefix`, in revision order, after the change
   * is committed. Returns a function that stops the watch.
   */
  watch(prefix: string, onEvent: (ev: WatchEvent) => void, opts?: WatchOptions): Promise<() => void>;
  close(): Promise<void>;
}
