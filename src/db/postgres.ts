import { context } from '@opentelemetry/api';
import type { DbCall, DbOperation, DbRecorder, PoolStats } from './operation.js';
import type { DbMetrics } from './metrics.js';

const kInstrumented = Symbol('periscope.pgInstrumented');
const kWait = Symbol('periscope.pgConnectionWait');

/** The part of a `pg` Client periscope uses: its `query` and where it connects. */
interface PgClientLike {
  query: (...args: unknown[]) => unknown;
  connectionParameters?: { host?: string; port?: number; database?: string };
  [kInstrumented]?: true;
  [kWait]?: number;
}

/** The part of a `pg` Pool periscope uses. */
interface PgPoolLike {
  query: (...args: unknown[]) => unknown;
  connect: (...args: unknown[]) => unknown;
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { max?: number; host?: string; port?: number; database?: string };
  [kInstrumented]?: true;
}

/** Where a client's calls go: the parts of a {@link DbCall} that do not change per statement. */
interface Target {
  readonly pool: DbCall['pool'];
  readonly namespace: string | undefined;
  readonly serverAddress: string | undefined;
  readonly serverPort: number | undefined;
}

export function isPgPool(value: object): boolean {
  const p = value as Partial<PgPoolLike>;
  return typeof p.connect === 'function' && typeof p.totalCount === 'number' && typeof p.idleCount === 'number' && typeof p.waitingCount === 'number';
}

/** A statement's operation and collection: parsed once per distinct text (a bounded cache). */
interface Shape {
  readonly operation: string;
  readonly collection: string | undefined;
}
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 2000;
// Leading blanks, parentheses and comments (`-- ...`, `/* sqlcommenter */`) skipped.
const FIRST_WORD = /^(?:[\s(]|--[^\n]*\n|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/;
// The table of the simple single-table forms; joins, CTEs and subqueries get none (not cheaply known).
const COLLECTION = /^\s*(?:SELECT\b[\s\S]*?\bFROM|INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY)\s+((?:ONLY\s+)?"?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?)/i;

export function statementShape(text: string): Shape {
  let s = shapes.get(text);
  if (s !== undefined) return s;
  const word = FIRST_WORD.exec(text)?.[1];
  const operation = word === undefined || word.length > 32 ? '_OTHER' : word.toUpperCase();
  const m = COLLECTION.exec(text);
  const joined = m !== undefined && m !== null && /\bJOIN\b|,\s*[A-Za-z_"]/i.test(text.slice(m.index + m[0].length, m.index + m[0].length + 200).split(/\bWHERE\b/i)[0] ?? '');
  const collection = m === null || joined ? undefined : m[1]!.replace(/^ONLY\s+/i, '').replaceAll('"', '');
  s = { operation, collection };
  if (shapes.size < MAX_SHAPES) shapes.set(text, s);
  return s;
}

function statementOf(first: unknown): string | undefined {
  if (typeof first === 'string') return first;
  if (typeof first === 'object' && first !== null && typeof (first as { text?: unknown }).text === 'string') return (first as { text: string }).text;
  return undefined;
}

function callOf(target: Target, text: string, wait: number | undefined): DbCall {
  const shape = statementShape(text);
  return {
    system: 'postgresql',
    operation: shape.operation,
    queryText: text,
    collection: shape.collection,
    namespace: target.namespace,
    serverAddress: target.serverAddress,
    serverPort: target.serverPort,
    connectionWait: wait,
    pool: target.pool,
  };
}

/**
 * Wraps `client.query` in place: promise, callback and `{ text, values, callback }` forms. Only
 * the text is read; the values are passed on untouched and never looked at. A submittable
 * (`new Query(...)`, a cursor or stream) is passed through untraced.
 *
 * When `pg` publishes a `pg:query` TracingChannel, this wrapper is replaced by a subscriber that
 * builds the same {@link DbCall} from the channel's context and calls the same recorder.
 */
function wrapClient(client: PgClientLike, target: Target, recorder: DbRecorder): void {
  if (client[kInstrumented]) return;
  client[kInstrumented] = true;
  const original = client.query;
  client.query = function periscopeQuery(this: PgClientLike, ...args: unknown[]): unknown {
    const first = args[0];
    const text = statementOf(first);
    if (text === undefined || typeof (first as { submit?: unknown }).submit === 'function') return original.apply(this, args);
    const wait = client[kWait];
    client[kWait] = undefined;
    let op: DbOperation | undefined;
    try {
      op = recorder.start(callOf(target, text, wait));
    } catch {
      op = undefined;
    }
    if (op === undefined) return original.apply(this, args);
    const done = op;
    const settle = (error: unknown) => recorder.end(done, error ?? undefined);
    // The callback forms: (text, cb), (text, values, cb), ({ text, callback }).
    const cbIndex = typeof args[1] === 'function' ? 1 : typeof args[2] === 'function' ? 2 : -1;
    if (cbIndex !== -1) {
      const cb = args[cbIndex] as (err: unknown, res: unknown) => void;
      args[cbIndex] = function (this: unknown, err: unknown, res: unknown) {
        settle(err);
        return cb.call(this, err, res);
      };
      return callOriginal(original, this, args, settle);
    }
    if (typeof first === 'object' && first !== null && typeof (first as { callback?: unknown }).callback === 'function') {
      const config = first as { callback: (err: unknown, res: unknown) => void };
      const cb = config.callback;
      // A copy: the caller's object is never written to.
      args[0] = { ...config, callback: (err: unknown, res: unknown) => (settle(err), cb(err, res)) };
      return callOriginal(original, this, args, settle);
    }
    const result = callOriginal(original, this, args, settle) as PromiseLike<unknown> | undefined;
    if (result === undefined || typeof result.then !== 'function') {
      settle(undefined);
      return result;
    }
    return result.then(
      (value) => {
        settle(undefined);
        return value;
      },
      (error: unknown) => {
        settle(error);
        throw error;
      },
    );
  };
}

/** Calls the driver; a synchronous throw finishes the operation and is rethrown as is. */
function callOriginal(original: (...args: unknown[]) => unknown, self: unknown, args: unknown[], settle: (error: unknown) => void): unknown {
  try {
    return original.apply(self, args);
  } catch (error) {
    settle(error);
    throw error;
  }
}

export interface InstrumentedPool {
  readonly name: string;
  stats(): PoolStats | undefined;
}

/**
 * Instruments a `pg` Pool or Client in place and returns it. For a Pool, `connect` is wrapped:
 * the wait for a connection is timed (`db_client_connection_wait_time_seconds`, and an attribute
 * of the next query's span) and each client it hands out is instrumented once, so `pool.query`,
 * which goes through `connect`, is covered too. The callback of a connection that had to wait
 * runs in the caller's context, not in that of whoever released the connection.
 */
export function instrumentPg(target: object, name: string, recorder: DbRecorder, metrics: DbMetrics | undefined): InstrumentedPool | undefined {
  if (isPgPool(target)) {
    const pool = target as PgPoolLike;
    const stats = (): PoolStats => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: pool.options?.max });
    if (pool[kInstrumented]) return { name, stats };
    pool[kInstrumented] = true;
    const o = pool.options ?? {};
    const t: Target = { pool: { name, stats }, namespace: o.database, serverAddress: o.host, serverPort: o.port };
    const connect = pool.connect;
    const acquired = (client: unknown, started: number) => {
      const seconds = (performance.now() - started) / 1000;
      metrics?.connectionWait(name, seconds);
      if (client !== null && typeof client === 'object' && typeof (client as PgClientLike).query === 'function') {
        const c = client as PgClientLike;
        wrapClient(c, { ...t, ...clientTarget(c, t) }, recorder);
        c[kWait] = seconds;
      }
    };
    pool.connect = function periscopeConnect(this: PgPoolLike, ...args: unknown[]): unknown {
      const started = performance.now();
      const cb = args[0];
      if (typeof cb === 'function') {
        const bound = context.bind(context.active(), cb as (...a: unknown[]) => unknown);
        return connect.call(this, (err: unknown, client: unknown, release: unknown) => {
          // A connection that never came (a timeout, a pool ending) waited all the same.
          acquired(err ? undefined : client, started);
          return bound(err, client, release);
        });
      }
      const result = connect.apply(this, args) as Promise<unknown>;
      return result.then(
        (client) => {
          acquired(client, started);
          return client;
        },
        (error: unknown) => {
          acquired(undefined, started);
          throw error;
        },
      );
    };
    return { name, stats };
  }
  const client = target as PgClientLike;
  wrapClient(client, clientTarget(client, { pool: undefined, namespace: undefined, serverAddress: undefined, serverPort: undefined }), recorder);
  return undefined;
}

function clientTarget(client: PgClientLike, fallback: Target): Target {
  const p = client.connectionParameters;
  return { pool: fallback.pool, namespace: p?.database ?? fallback.namespace, serverAddress: p?.host ?? fallback.serverAddress, serverPort: p?.port ?? fallback.serverPort };
}
