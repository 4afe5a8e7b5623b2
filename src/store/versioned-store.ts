// The etcd-style semantics (revisions, compare-and-set, transactions, watch replay) written once.
// A backend only supplies synchronous storage primitives that run inside `atomically`; the
// memory twin and SQLite then cannot drift apart in behaviour.
import { CorralError, errors } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { checkDeletePrefix, checkKey, checkPrefix, toJson } from './keys';
import type { Compare, JsonValue, KvEntry, PutOptions, Store, TxnOp, TxnRequest, TxnResult, WatchEvent, WatchOptions } from './types';
import { WatchHub, type StoredChange } from './watch-hub';

export type { StoredChange } from './watch-hub';

/** A key as the backends keep it; `json` is the value's JSON text. */
export interface StoredEntry {
  key: string;
  json: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface StoreOptions {
  /** How many revisions of change history to keep for watch replay (a count, not a time). Default 10000. */
  historyLimit?: number;
  /** Where a watcher callback that throws is reported (event `store.watcher_failed`). Default: a process warning. */
  logger?: Logger;
}

export const DEFAULT_HISTORY_LIMIT = 10_000;

/** A validated op: values are serialised already, so applying it cannot fail half-way. */
type PreparedOp = { type: 'put'; key: string; json: string } | { type: 'delete'; key: string } | { type: 'deletePrefix'; prefix: string };

interface Applied {
  revision: number;
  changes: StoredChange[];
}

function invalid(message: string): CorralError {
  return new CorralError('INVALID_REQUEST', message);
}

function toKvEntry<V>(e: StoredEntry): KvEntry<V> {
  return { key: e.key, value: JSON.parse(e.json) as V, createRevision: e.createRevision, modRevision: e.modRevision, version: e.version };
}

function prepareOp(op: TxnOp): PreparedOp {
  switch (op?.type) {
    case 'put':
      return { type: 'put', key: checkKey(op.key), json: toJson(op.key, op.value) };
    case 'delete':
      return { type: 'delete', key: checkKey(op.key) };
    case 'deletePrefix':
      return { type: 'deletePrefix', prefix: checkDeletePrefix(op.prefix) };
    default:
      throw invalid(`Unknown transaction op ${JSON.stringify(op)}`);
  }
}

function checkCompare(c: Compare): void {
  checkKey(c?.key);
  if (c.target === 'exists' && typeof c.value === 'boolean') return;
  if (c.target === 'modRevision' && ['=', '<', '>', '!='].includes(c.op) && Number.isFinite(c.value)) return;
  throw invalid(`Unknown transaction compare ${JSON.stringify(c)}`);
}

function checkExpectedRevision(opts: PutOptions | undefined): number | undefined {
  const expected = opts?.expectedRevision;
  if (expected === undefined) return undefined;
  if (!Number.isInteger(expected) || expected < 0) throw invalid(`expectedRevision must be an integer >= 0, got ${expected}`);
  return expected;
}

export abstract class VersionedStore implements Store {
  protected readonly historyLimit: number;
  private readonly hub: WatchHub;
  private closed = false;

  protected constructor(opts: StoreOptions) {
    const limit = opts.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw errors.config(`Store historyLimit must be an integer >= 1, got ${limit}`);
    this.historyLimit = limit;
    const logger = opts.logger;
    this.hub = new WatchHub((err, ev) => {
      if (logger) logger.error({ event: 'store.watcher_failed', err, key: ev.key, revision: ev.revision }, 'A store watcher threw; the store and other watchers carry on');
      else process.emitWarning(`A store watcher threw on ${ev.type} of '${ev.key}' at revision ${ev.revision}: ${String(err)}`, 'CorralStoreWarning');
    });
  }

  // --- Storage primitives. All are synchronous; writes only ever happen inside `atomically`. ---
  protected abstract readRevision(): number;
  /** Highest revision whose history has been pruned (0 if none). */
  protected abstract readCompactedRevision(): number;
  protected abstract readEntry(key: string): StoredEntry | undefined;
  /** Entries whose key starts with `prefix`, in compareKeys order. */
  protected abstract readRange(prefix: string): StoredEntry[];
  /** Retained changes with revision > `afterRevision` under `prefix`, in revision then op order. */
  protected abstract readHistory(afterRevision: number, prefix: string): StoredChange[];
  protected abstract writeEntry(entry: StoredEntry): void;
  protected abstract removeEntry(key: string): void;
  /** Makes `revision` the store revision and appends its changes to the history. */
  protected abstract commitRevision(revision: number, changes: StoredChange[]): void;
  /** Drops history at or below `throughRevision` and remembers that it did. */
  protected abstract pruneHistory(throughRevision: number): void;
  /** Runs `fn` all-or-nothing: if it throws, no primitive it called leaves a trace. */
  protected abstract atomically<T>(fn: () => T): T;
  /** Frees the backend's resources; called once. */
  protected abstract release(): void;

  async revision(): Promise<number> {
    this.assertOpen();
    return this.readRevision();
  }

  async get<V = JsonValue>(key: string): Promise<KvEntry<V> | undefined> {
    this.assertOpen();
    const entry = this.readEntry(checkKey(key));
    return entry && toKvEntry<V>(entry);
  }

  async list<V = JsonValue>(prefix: string): Promise<KvEntry<V>[]> {
    this.assertOpen();
    return this.readRange(checkPrefix(prefix)).map((e) => toKvEntry<V>(e));
  }

  async put(key: string, value: JsonValue, opts?: PutOptions): Promise<number> {
    this.assertOpen();
    const op = prepareOp({ type: 'put', key, value });
    return this.commitGuarded(key, checkExpectedRevision(opts), [op]).revision;
  }

  async delete(key: string, opts?: PutOptions): Promise<boolean> {
    this.assertOpen();
    const op = prepareOp({ type: 'delete', key });
    return this.commitGuarded(key, checkExpectedRevision(opts), [op]).changes.length > 0;
  }

  async txn(req: TxnRequest): Promise<TxnResult> {
    this.assertOpen();
    // Both branches are validated whichever runs, so a bad op is found in tests, not in production.
    for (const c of req.compare) checkCompare(c);
    const success = req.success.map(prepareOp);
    const failure = (req.failure ?? []).map(prepareOp);
    let succeeded = false;
    const applied = this.atomically(() => {
      succeeded = req.compare.every((c) => this.holds(c));
      return this.apply(succeeded ? success : failure);
    });
    this.hub.publish(applied.changes);
    return { succeeded, revision: applied.revision };
  }

  async watch(prefix: string, onEvent: (ev: WatchEvent) => void, opts: WatchOptions = {}): Promise<() => void> {
    this.assertOpen();
    checkPrefix(prefix);
    // Revision and history are read in the same synchronous step as subscribing, so no commit can
    // slip between them: nothing is missed and nothing is delivered twice.
    const current = this.readRevision();
    const from = opts.fromRevision;
    if (from === undefined) return this.hub.subscribe(prefix, onEvent, current, []);
    if (!Number.isInteger(from) || from < 0) throw invalid(`fromRevision must be an integer >= 0, got ${from}`);
    const compacted = this.readCompactedRevision();
    if (from < compacted) {
      throw new CorralError(
        'STORE_COMPACTED',
        `Watch of '${prefix}' asked for changes after revision ${from}, but history up to revision ${compacted} has been pruned; re-list and watch from the current revision`,
      );
    }
    return this.hub.subscribe(prefix, onEvent, Math.max(current, from), this.readHistory(from, prefix));
  }

  /** Idempotent: closing twice is not an error, but every other call afterwards is. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.hub.clear();
    this.release();
  }

  /** Number of active watches; for metrics and for tests that check unsubscribe. */
  watchCount(): number {
    return this.hub.size;
  }

  protected assertOpen(): void {
    if (this.closed) throw new CorralError('STORE_CLOSED', 'The store has been closed; no further reads or writes are possible');
  }

  private commitGuarded(key: string, expected: number | undefined, ops: PreparedOp[]): Applied {
    const applied = this.atomically(() => {
      if (expected !== undefined) {
        const actual = this.readEntry(key)?.modRevision ?? 0;
        if (actual !== expected) throw errors.revisionConflict(key, expected, actual);
      }
      return this.apply(ops);
    });
    this.hub.publish(applied.changes);
    return applied;
  }

  private holds(c: Compare): boolean {
    const entry = this.readEntry(c.key);
    if (c.target === 'exists') return (entry !== undefined) === c.value;
    // As in etcd, a missing key has modRevision 0.
    const mod = entry?.modRevision ?? 0;
    switch (c.op) {
      case '=':
        return mod === c.value;
      case '!=':
        return mod !== c.value;
      case '<':
        return mod < c.value;
      case '>':
        return mod > c.value;
    }
  }

  /** Applies ops in order under one new revision; a run that changes nothing leaves the revision alone. */
  private apply(ops: PreparedOp[]): Applied {
    const revision = this.readRevision() + 1;
    const changes: StoredChange[] = [];
    const remove = (key: string): void => {
      this.removeEntry(key);
      changes.push({ revision, key, type: 'delete', json: undefined });
    };
    for (const op of ops) {
      if (op.type === 'put') {
        const prev = this.readEntry(op.key);
        this.writeEntry({
          key: op.key,
          json: op.json,
          createRevision: prev?.createRevision ?? revision,
          modRevision: revision,
          version: (prev?.version ?? 0) + 1,
        });
        changes.push({ revision, key: op.key, type: 'put', json: op.json });
      } else if (op.type === 'delete') {
        if (this.readEntry(op.key)) remove(op.key);
      } else {
        for (const entry of this.readRange(op.prefix)) remove(entry.key);
      }
    }
    if (changes.length === 0) return { revision: revision - 1, changes };
    this.commitRevision(revision, changes);
    const prunable = revision - this.historyLimit;
    if (prunable > this.readCompactedRevision()) this.pruneHistory(prunable);
    return { revision, changes };
  }
}
