import { Counter } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';

/**
 * A counter of one label registered in `registry`, every one of `values` exported at 0 from the
 * start, so a dashboard's rate() sees each series before its first event (a dropped span or log
 * line, a failed scrape or export).
 */
export function zeroedCounter<L extends string>(registry: Registry, name: string, help: string, label: L, values: readonly string[]): Counter<L> {
  const counter = new Counter<string>({ name, help, labelNames: [label], registers: [registry] });
  for (const value of values) counter.inc({ [label]: value }, 0);
  return counter as Counter<L>;
}
