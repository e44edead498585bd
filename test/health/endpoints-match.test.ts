import { describe, expect, it } from 'vitest';
import { Endpoints } from '../../src/core/index.js';

describe('Endpoints.match with per-check prefixes', () => {
  const e = new Endpoints(() => {});
  const [metrics, ready, readyOne, root] = [() => {}, () => {}, () => {}, () => {}];
  e.add('/metrics', metrics);
  e.add('/readyz', ready);
  e.add('/readyz/*', readyOne);

  it.each([
    ['/readyz', ready],
    ['/readyz?verbose', ready],
    ['/readyz/postgres', readyOne],
    ['/readyz/postgres?x=1', readyOne],
    ['/readyz/', undefined],
    ['/readyz/?verbose', undefined],
    ['/readyzz', undefined],
    ['/metrics', metrics],
    ['/metricsx', undefined],
    ['/users/1', undefined],
    ['/', undefined],
  ])('%s', (url, handler) => {
    expect(e.match(url)).toBe(handler);
  });

  it('a "/" path still matches only itself', () => {
    const r = new Endpoints(() => {});
    r.add('/', root);
    expect(r.match('/')).toBe(root);
    expect(r.match('/?a')).toBe(root);
    expect(r.match('/x')).toBe(undefined);
  });

  it('entries() gives the declared paths, with their `/*`', () => {
    expect(e.entries().map(([p]) => p)).toEqual(['/metrics', '/readyz', '/readyz/*']);
  });
});
