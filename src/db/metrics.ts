import { Counter, Histogram } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';

/** OpenTelemetry's explicit buckets for `db.client.operation.duration` (seconds). */
export const DB_DURATION_BUCKETS: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]);

/** Distinct operation names kept as label values; later ones fold into `_OTHER` so a stream of odd statements adds no series. */
const MAX_OPERATION_NAMES = 256;
export const OPERATION_OTHER = '_OTHER';

type DurationLabels = 'db_system_name' | 'db_operation_name' | 'error_type';
interface Child {
  observe(value: number): void;
}
interface ExemplarWriter {
  updateExemplar(labels: object, value: number, exemplarLabels: Record<string, string>): void;
}
interface Bound {
  readonly labels: Record<DurationLabels, string>;
  readonly child: Child;
}

/**
 * The db concern's metrics, in the registry of the `instrument()` call. The duration is the
 * Prometheus client's histogram, observed through a bound child cached per label set (one Map
 * lookup on a short string key per call, no label object made and validated each time).
 */
export class DbMetrics {
  readonly #duration: Histogram<DurationLabels>;
  readonly #wait: Histogram<'pool_name'>;
  readonly #slow: Counter<'db_system_name' | 'db_operation_name'>;
  readonly #bound = new Map<string, Bound>();
  readonly #operations = new Set<string>();

  constructor(registry: Registry) {
    this.#duration = new Histogram({
      name: 'db_client_operation_duration_seconds',
      help: 'Duration of database and cache client operations (OpenTelemetry db.client.operation.duration), by system, operation and error type ("" on success).',
      labelNames: ['db_system_name', 'db_operation_name', 'error_type'],
      buckets: [...DB_DURATION_BUCKETS],
      enableExemplars: true,
      // The client refuses exemplars on a registry of the text format, yet periscope serves
      // exemplars only in OpenMetrics whatever the registry's type: registered by hand.
      registers: [],
    });
    registry.registerMetric(this.#duration);
    this.#wait = new Histogram({
      name: 'db_client_connection_wait_time_seconds',
      help: 'Time spent waiting for a connection from the pools given to instrumentPostgres (OpenTelemetry db.client.connection.wait_time).',
      labelNames: ['pool_name'],
      buckets: [...DB_DURATION_BUCKETS],
      registers: [registry],
    });
    this.#slow = new Counter({
      name: 'db_client_slow_operations_total',
      help: 'Database and cache operations slower than db.slowQueryMs.',
      labelNames: ['db_system_name', 'db_operation_name'],
      registers: [registry],
    });
  }

  /** The label value for an operation name: itself until the cap, then `_OTHER`. */
  operationLabel(name: string): string {
    if (this.#operations.has(name)) return name;
    if (this.#operations.size >= MAX_OPERATION_NAMES) return OPERATION_OTHER;
    this.#operations.add(name);
    return name;
  }

  /** Records one operation; `traceId` (a sampled trace's) becomes the bucket's exemplar. */
  operation(system: string, operation: string, errorType: string, seconds: number, traceId: string | undefined): void {
    const key = `${system}\u0000${operation}\u0000${errorType}`;
    let b = this.#bound.get(key);
    if (b === undefined) {
      const labels = Object.freeze({ db_system_name: system, db_operation_name: operation, error_type: errorType });
      b = { labels, child: this.#duration.labels(labels) };
      this.#bound.set(key, b);
    }
    b.child.observe(seconds);
    // The client's own exemplar path (`observe({ labels, value, exemplarLabels })`) would build and
    // validate a label object per call; its per-bucket update is reached directly instead.
    if (traceId !== undefined) (this.#duration as unknown as ExemplarWriter).updateExemplar(b.labels, seconds, { trace_id: traceId });
  }

  connectionWait(pool: string, seconds: number): void {
    this.#wait.observe({ pool_name: pool }, seconds);
  }

  slow(system: string, operation: string): void {
    this.#slow.inc({ db_system_name: system, db_operation_name: operation });
  }
}
