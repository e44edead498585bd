/** A log line as the console keeps it. */
export interface LogEntry {
  /** Position in the stream of lines the console saw (1, 2, ...). */
  readonly seq: number;
  readonly time: string | undefined;
  readonly level: string;
  readonly msg: string;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  /** The line as written (capped): the page shows it as text. */
  readonly line: string;
}

/** Longest line kept whole; longer ones are cut (the page shows that they were). */
export const MAX_LINE_CHARS = 4096;

const LEVELS: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** The level of a parsed line: periscope writes labels, or numbers with `levelFormat: 'number'`. */
function levelOf(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 16);
  if (typeof value === 'number') return LEVELS[value] ?? String(value);
  return 'info';
}

/**
 * The last `max` log lines, in a ring, indexed by trace ID. Lines come from the tap on
 * periscope's own logger as the JSON text it writes; each is parsed once here.
 */
export class LogStore {
  readonly #max: number;
  readonly #ring: (LogEntry | undefined)[];
  #next = 0;
  #seq = 0;
  readonly #byTrace = new Map<string, LogEntry[]>();
  evicted = 0;
  /** Called with each line kept (for the live tail). */
  onLine: ((entry: LogEntry) => void) | undefined;

  constructor(max: number) {
    this.#max = max;
    this.#ring = new Array<LogEntry | undefined>(max).fill(undefined);
  }

  get size(): number {
    return Math.min(this.#seq, this.#max);
  }

  /** Takes one written line (a JSON object and a newline; a chunk of several is split). */
  write(chunk: string): void {
    let start = 0;
    while (start < chunk.length) {
      let end = chunk.indexOf('\n', start);
      if (end === -1) end = chunk.length;
      if (end > start) this.#add(chunk.slice(start, end));
      start = end + 1;
    }
  }

  #add(raw: string): void {
    let fields: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(raw) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
    } catch {
      // Not JSON (a user stream given text): kept as a line of its own.
    }
    const traceId = typeof fields.trace_id === 'string' && /^[0-9a-f]{32}$/.test(fields.trace_id) ? fields.trace_id : undefined;
    const entry: LogEntry = {
      seq: ++this.#seq,
      time: typeof fields.time === 'string' ? fields.time.slice(0, 40) : undefined,
      level: levelOf(fields.level),
      msg: typeof fields.msg === 'string' ? fields.msg.slice(0, 512) : '',
      traceId,
      spanId: typeof fields.span_id === 'string' ? fields.span_id.slice(0, 16) : undefined,
      line: raw.length <= MAX_LINE_CHARS ? raw : `${raw.slice(0, MAX_LINE_CHARS)}…`,
    };
    const old = this.#ring[this.#next];
    if (old !== undefined) {
      this.evicted++;
      if (old.traceId !== undefined) {
        const list = this.#byTrace.get(old.traceId);
        // The oldest line of a trace is the first of its list.
        if (list !== undefined) {
          list.shift();
          if (list.length === 0) this.#byTrace.delete(old.traceId);
        }
      }
    }
    this.#ring[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#max;
    if (traceId !== undefined) {
      const list = this.#byTrace.get(traceId);
      if (list === undefined) this.#byTrace.set(traceId, [entry]);
      else list.push(entry);
    }
    this.onLine?.(entry);
  }

  /** The lines of one trace, oldest first. */
  ofTrace(traceId: string): readonly LogEntry[] {
    return this.#byTrace.get(traceId) ?? [];
  }

  /** Number of trace IDs indexed (the tests check it follows the ring). */
  get tracesIndexed(): number {
    return this.#byTrace.size;
  }

  /** Oldest first: the lines whose level is at least `minLevel` and whose text holds `q`, the last `limit` of them. */
  query(filter: { minLevel?: string | undefined; q?: string | undefined; limit?: number | undefined } = {}): LogEntry[] {
    const min = filter.minLevel === undefined ? 0 : levelRank(filter.minLevel);
    const q = filter.q === undefined || filter.q === '' ? undefined : filter.q.toLowerCase();
    const limit = filter.limit ?? this.#max;
    const out: LogEntry[] = [];
    for (let i = 1; i <= this.#max && out.length < limit; i++) {
      const e = this.#ring[(this.#next - i + this.#max) % this.#max];
      if (e === undefined) break;
      if (levelRank(e.level) < min) continue;
      if (q !== undefined && !e.line.toLowerCase().includes(q)) continue;
      out.push(e);
    }
    return out.reverse();
  }
}

const RANKS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export function levelRank(level: string): number {
  return RANKS[level] ?? 30;
}
