import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseText } from './support-parser.js';

export interface Sample {
  labels: Record<string, string>;
  value?: number;
  buckets?: Record<string, number>;
  count?: number;
  sum?: number;
}
export interface Family {
  type: string;
  help: string;
  data: Sample[];
}
export type Exposition = Record<string, Family>;

/** Listens on a free loopback port and returns the base URL. */
export async function listen(server: Server): Promise<string> {
  if (!server.listening) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Parses an exposition (see support-parser.ts) and groups histogram samples into one
 * entry per label set with `buckets`, `sum` and `count`.
 */
export async function parseExposition(text: string): Promise<Exposition> {
  const out: Exposition = {};
  for (const [name, family] of parseText(text)) {
    const data: Sample[] = [];
    if (family.type === 'histogram') {
      const byKey = new Map<string, Sample>();
      for (const s of family.samples) {
        const { le, ...labels } = s.labels;
        const key = JSON.stringify(labels);
        let entry = byKey.get(key);
        if (entry === undefined) {
          entry = { labels, buckets: {}, count: 0, sum: 0 };
          byKey.set(key, entry);
          data.push(entry);
        }
        if (s.name.endsWith('_bucket')) entry.buckets![le!] = s.value;
        else if (s.name.endsWith('_sum')) entry.sum = s.value;
        else if (s.name.endsWith('_count')) entry.count = s.value;
      }
    } else {
      for (const s of family.samples) data.push({ labels: s.labels, value: s.value });
    }
    out[name] = { type: family.type, help: family.help, data };
  }
  return out;
}

export async function scrape(base: string, path = '/metrics'): Promise<{ text: string; metrics: Exposition }> {
  const res = await fetch(base + path);
  if (res.status !== 200) throw new Error(`scrape ${path} answered ${res.status}`);
  const text = await res.text();
  return { text, metrics: await parseExposition(text) };
}

function matches(sample: Sample, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v);
}

/** The samples of `name` whose labels include `labels`. */
export function samples(metrics: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return (metrics[name]?.data ?? []).filter((s) => matches(s, labels));
}

/** The value of the one sample of a counter or gauge with exactly these labels; 0 when absent. */
export function value(metrics: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = samples(metrics, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value ?? 0;
}

/** Histogram count of the one series with these labels; 0 when absent. */
export function histogramCount(metrics: Exposition, name: string, labels: Record<string, string>): number {
  const found = samples(metrics, name, labels);
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.count ?? 0;
}

let promtool: string | null | undefined;
/** Path of promtool, or null when it is not installed (CI installs it; see .ci/run). */
export function promtoolPath(): string | null {
  if (promtool === undefined) {
    const r = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
    promtool = r.status === 0 ? r.stdout.trim() : null;
  }
  return promtool;
}

/** Runs `promtool check metrics` on an exposition; returns its complaints ('' when clean). */
export function promtoolCheck(text: string): string {
  const bin = promtoolPath();
  if (bin === null) throw new Error('promtool is not installed (apt-get install prometheus)');
  try {
    execFileSync(bin, ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return '';
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || String(error);
  }
}

/** Sends `n` requests, at most `concurrency` at a time, and reads every body. */
export async function hammer(urls: (i: number) => string, n: number, concurrency = 32, init?: RequestInit): Promise<number[]> {
  const statuses: number[] = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const res = await fetch(urls(i), init);
      await res.arrayBuffer();
      statuses[i] = res.status;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return statuses;
}
