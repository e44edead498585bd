import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

/** One bench/db.mjs worker with a few calls: what it measured, and how many operations the instrumentation saw per call. */
async function worker(variant: string, nodeArgs: string[] = []) {
  const { stdout } = await run(process.execPath, [...nodeArgs, 'bench/db.mjs', '--worker', variant, '--calls', '20'], {
    cwd: root,
    timeout: 30_000,
    env: { ...process.env, OTEL_BENCH_EXPORT: '0', OTLP_SINK: 'http://127.0.0.1:9' },
  });
  return JSON.parse(stdout) as Record<string, { cpu: number; wall: number; per_call: number }>;
}

describe('bench/db.mjs', () => {
  it('periscope sees every Redis GET and SELECT 1 once, with no preload', async () => {
    const out = await worker('periscope-light');
    expect(Object.fromEntries(Object.entries(out).map(([op, r]) => [op, r.per_call]))).toEqual({ 'ioredis GET': 1, 'node-redis GET': 1, 'pg SELECT 1': 1 });
  });

  it("OpenTelemetry's instrumentations, with their preload, trace the same drivers (two spans per pool.query)", async () => {
    const out = await worker('otel-light', ['--import', './bench/lib/otel-db-preload.mjs']);
    expect(Object.fromEntries(Object.entries(out).map(([op, r]) => [op, r.per_call]))).toEqual({ 'ioredis GET': 1, 'node-redis GET': 1, 'pg SELECT 1': 2 });
  });
});
