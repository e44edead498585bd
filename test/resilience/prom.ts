import { createRequire } from 'node:module';

/** One metric family as parse-prometheus-text-format returns it (values are strings). */
export interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

// The package ships no types; loading it through require keeps the type in this one file.
const load = createRequire(import.meta.url);
const parse = load('parse-prometheus-text-format') as (text: string) => Family[];

/** Fetches and parses a Prometheus text exposition. */
export async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape of ${url} answered ${res.status}`);
  return new Map(parse(await res.text()).map((f) => [f.name, f]));
}

/** The value of the sample of `family` whose labels include `labels`, as a number; undefined if none. */
export function sample(families: Map<string, Family>, family: string, labels: Record<string, string>): number | undefined {
  const f = families.get(family);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  if (m === undefined) return undefined;
  return Number(m.value ?? m.count);
}
