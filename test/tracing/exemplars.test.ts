import { afterEach, describe, expect, it } from 'vitest';
import { FRAMEWORKS, startApp } from './frameworks.js';
import type { TestApp } from './frameworks.js';
import { PARENT_SPAN, PARENT_TRACE } from './helpers.js';

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.obs.shutdown();
  await app?.close();
  app = undefined;
});

function durationBuckets(body: string, route: string): string[] {
  return body.split('\n').filter((l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes(`route="${route}"`));
}

describe.each(FRAMEWORKS)('exemplars on %s', (framework) => {
  it('the sampled request trace id rides on its duration bucket in OpenMetrics only', async () => {
    app = await startApp(framework, { tracing: { exporter: 'none' } });
    await (await fetch(`${app.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } })).text();

    const om = await (await fetch(`${app.url}/metrics`, { headers: { accept: OPENMETRICS } })).text();
    const withExemplar = durationBuckets(om, '/users/:id').filter((l) => l.includes(' # {'));
    expect(withExemplar).toHaveLength(1);
    const m = /^http_request_duration_seconds_bucket\{.*le="([^"]+)"\} 1 # \{trace_id="([0-9a-f]{32})"\} ([0-9.e-]+) (\d+\.\d{3})$/.exec(withExemplar[0]!);
    expect(m).not.toBe(null);
    const [, le, traceId, value, timestamp] = m!;
    expect(traceId).toBe(PARENT_TRACE);
    // The exemplar value lies inside its bucket, and its timestamp is now-ish, in seconds.
    expect(Number(value)).toBeLessThanOrEqual(le === '+Inf' ? Infinity : Number(le));
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    // The histogram's other families carry none, and neither does the size histogram.
    expect(om.split('\n').filter((l) => l.includes(' # {'))).toHaveLength(1);

    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(durationBuckets(text, '/users/:id').length).toBeGreaterThan(0);
    expect(text).not.toContain(' # {');
  });
});

describe('no exemplars', () => {
  it('for an unsampled request', async () => {
    app = await startApp('fastify', { tracing: { exporter: 'none' } });
    await (await fetch(`${app.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-00` } })).text();
    const om = await (await fetch(`${app.url}/metrics`, { headers: { accept: OPENMETRICS } })).text();
    expect(durationBuckets(om, '/users/:id').length).toBe(12);
    expect(om).not.toContain(' # {');
  });

  it('with tracing off', async () => {
    app = await startApp('express', { tracing: false });
    await (await fetch(`${app.url}/users/1`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } })).text();
    const om = await (await fetch(`${app.url}/metrics`, { headers: { accept: OPENMETRICS } })).text();
    expect(durationBuckets(om, '/users/:id').length).toBe(12);
    expect(om).not.toContain(' # {');
    expect(om).not.toContain('periscope_spans_dropped_total');
  });
});
