import diagnosticsChannel from 'node:diagnostics_channel';
import type { Report } from '../core/index.js';
import type { DbOperation, DbRecorder } from './operation.js';

const kOp = Symbol('periscope.dbOperation');

/** What node-redis (`node-redis:*`) and ioredis (`ioredis:*`) put in a command's or batch's channel context. */
interface RedisChannelContext {
  /** node-redis: upper case; ioredis: lower case. */
  command?: string;
  /** Already redacted by the driver; node-redis includes the command name, ioredis does not. */
  args?: readonly unknown[];
  database?: number | string;
  serverAddress?: string;
  serverPort?: number;
  /** `MULTI`, or `PIPELINE` (node-redis, also on each command of a pipeline). */
  batchMode?: string;
  batchSize?: number;
  error?: unknown;
  [kOp]?: DbOperation;
}

/**
 * How many arguments after the command name may be shown, after OpenTelemetry's redis
 * instrumentation: reads and structural commands show all (keys, ranges, fields); writes show
 * their key (`SET k ?`) or key and field (`HSET h f ?`); everything else, including AUTH,
 * HELLO, ECHO and unknown commands, shows none.
 */
const SHOWN: readonly (readonly [RegExp, number])[] = [
  [/^ECHO/, 0],
  [/^(GETSET|LPUSH|MSET|PFA|PSETEX|PUBLISH|RPUSH|SADD|SET|SPUBLISH|XADD|ZADD)/, 1],
  [/^(HSET|HMSET|LSET|LINSERT)/, 2],
  [/^(ACL|BIT|B[LRZ]|CLIENT|CLUSTER|CONFIG|COMMAND|DECR|DEL|EVAL|EX|FUNCTION|GEO|GET|HINCR|HMGET|HSCAN|INCR|L[TRLM]|MEMORY|P[EFISTU]|RPOP|S[CDIMORSU]|XACK|X[CDGILPRT]|Z[CDILMPRS])/, Infinity],
];
/** Command names seen, with their shown-argument count: the regular expressions run once per name. */
const shownCache = new Map<string, number>();

function shownArgs(command: string): number {
  let n = shownCache.get(command);
  if (n === undefined) {
    n = SHOWN.find(([re]) => re.test(command))?.[1] ?? 0;
    if (shownCache.size < 1024) shownCache.set(command, n);
  }
  return n;
}

/** Longest `db.query.text` kept for a Redis command, in characters. */
const MAX_TEXT = 1024;

/**
 * `GET user:1`, `SET k ?`: the command and the arguments its rule shows (from `args[from]` on),
 * values replaced by `?`.
 * The drivers already redact; this applies the same rule again so that a driver version that
 * passed raw arguments still leaks nothing.
 */
export function redisQueryText(command: string, args: readonly unknown[], from = 0): string {
  const shown = shownArgs(command) + from;
  let text = command;
  for (let i = from; i < args.length && text.length < MAX_TEXT; i++) text += i < shown ? ` ${String(args[i])}` : ' ?';
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}

interface Handlers {
  start(message: unknown): void;
  end(message: unknown): void;
  asyncStart(message: unknown): void;
  asyncEnd(message: unknown): void;
  error(message: unknown): void;
}

/**
 * Redis calls from the drivers' own `TracingChannel`s: node-redis 5.12+ (`node-redis:command`,
 * `node-redis:batch`) and ioredis 6+ (`ioredis:command`, `ioredis:batch`). Nothing is patched, so
 * it works in ESM apps with no preload flag, whichever copy of the driver the app loaded.
 * A batch (MULTI, a node-redis pipeline) is one operation: the commands it sends while it starts
 * (between its `start` and `end` events, synchronously) are not traced again one by one.
 */
export class RedisChannels {
  readonly #recorder: DbRecorder;
  readonly #report: Report;
  readonly #subscriptions: [diagnosticsChannel.TracingChannel<unknown, object>, Handlers][] = [];
  /** Batches whose synchronous part is running: commands started meanwhile belong to them. */
  #batchDepth = 0;

  constructor(recorder: DbRecorder, report: Report) {
    this.#recorder = recorder;
    this.#report = report;
    for (const [prefix, argsHaveName] of [['node-redis', true], ['ioredis', false]] as const) {
      this.#subscriptions.push(
        [diagnosticsChannel.tracingChannel(`${prefix}:command`), this.#handlers((c) => this.#command(c, argsHaveName), false)],
        [diagnosticsChannel.tracingChannel(`${prefix}:batch`), this.#handlers((c) => this.#batch(c), true)],
      );
    }
  }

  subscribe(): void {
    for (const [channel, handlers] of this.#subscriptions) channel.subscribe(handlers);
  }

  unsubscribe(): void {
    for (const [channel, handlers] of this.#subscriptions) channel.unsubscribe(handlers);
  }

  #handlers(begin: (c: RedisChannelContext) => DbOperation | undefined, batch: boolean): Handlers {
    const finish = (m: unknown) => {
      const c = m as RedisChannelContext;
      const op = c[kOp];
      if (op === undefined) return;
      c[kOp] = undefined;
      this.#recorder.end(op, 'error' in c ? (c.error ?? new Error('unknown Redis error')) : undefined);
    };
    return {
      start: (m) => {
        if (batch) this.#batchDepth++;
        try {
          const c = m as RedisChannelContext;
          const op = begin(c);
          if (op !== undefined) c[kOp] = op;
        } catch (error) {
          // A throwing subscriber would surface in the app's Redis call: report, never throw.
          this.#report(error, 'db-redis');
        }
      },
      end: (m) => {
        if (batch) this.#batchDepth--;
        // `end` follows the synchronous part; only a call that threw there is finished by now.
        if ('error' in (m as object)) finish(m);
      },
      asyncStart: () => {},
      asyncEnd: finish,
      error: () => {},
    };
  }

  #command(c: RedisChannelContext, argsHaveName: boolean): DbOperation | undefined {
    if (this.#batchDepth > 0 || c.batchMode !== undefined || typeof c.command !== 'string') return undefined;
    const name = c.command.toUpperCase();
    const args = c.args ?? [];
    return this.#recorder.start({
      system: 'redis',
      operation: name,
      queryText: redisQueryText(name, args, argsHaveName ? 1 : 0),
      namespace: c.database === undefined ? undefined : String(c.database),
      serverAddress: c.serverAddress,
      serverPort: c.serverPort,
    });
  }

  #batch(c: RedisChannelContext): DbOperation | undefined {
    // Nested in another batch's start (a MULTI inside a pipeline): the outer one is the operation.
    if (this.#batchDepth > 1) return undefined;
    const name = typeof c.batchMode === 'string' ? c.batchMode.toUpperCase() : 'BATCH';
    return this.#recorder.start({
      system: 'redis',
      operation: name,
      namespace: c.database === undefined ? undefined : String(c.database),
      serverAddress: c.serverAddress,
      serverPort: c.serverPort,
      batchSize: c.batchSize,
    });
  }
}
