import { createServer } from 'node:http';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { afterAll, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';

afterAll(() => diag.disable());

it('a second instrument() call in one process registers nothing twice (no duplicate-registration errors)', async () => {
  const errors: string[] = [];
  const log = (message: string) => errors.push(message);
  diag.setLogger({ error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  const a = instrument(createServer(), { tracing: { exporter: 'none' }, metrics: false, routes: ['/'] });
  const b = instrument(createServer(), { tracing: { exporter: 'none' }, metrics: false, routes: ['/'] });
  // Both work: a span started by one is the active span inside the other's withSpan callback.
  const ids = await a.withSpan('outer', (outer) => b.withSpan('inner', (inner) => [outer.spanContext().traceId, inner.spanContext().traceId]));
  expect(ids[0]).toBe(ids[1]);
  await a.shutdown();
  await b.shutdown();
  expect(errors).toEqual([]);
});
