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

  it('finds each path whatever other paths share its second character, among non-ASCII ones and a "/"', () => {
    const paths = ['/healthz', '/hello', '/h/*', '/é', '/€x/*', '/', '/readyz', '/readyz/*'];
    const r = new Endpoints(() => {});
    const handlers = paths.map(() => () => {});
    paths.forEach((p, i) => r.add(p, handlers[i]!));
    // The first declared path that matches, compared one by one: the table must agree with it.
    const reference = (url: string) => {
      for (let i = 0; i < paths.length; i++) {
        const p = paths[i]!.endsWith('/*') ? paths[i]!.slice(0, -1) : paths[i]!;
        if (!url.startsWith(p)) continue;
        const rest = url.slice(p.length);
        if (paths[i]!.endsWith('/*') ? rest !== '' && !rest.startsWith('?') : rest === '' || rest.startsWith('?')) return handlers[i];
      }
      return undefined;
    };
    const urls = ['/', '/?x', '/healthz', '/healthz?v', '/hello', '/hello/n1', '/h', '/h/', '/h/x', '/h/x?y', '/é', '/é?', '/éx', '/€x/', '/€x/a', '/€', '/readyz', '/readyz/pg', '/x', '', '/\u0000', '/\u007f'];
    for (const url of urls) expect([url, r.match(url)]).toEqual([url, reference(url)]);
    expect(r.match('/hello/n1')).toBe(undefined);
    expect(r.match('/é')).toBe(handlers[3]);
    expect(r.match('/€x/a')).toBe(handlers[4]);
    expect(r.match('/')).toBe(handlers[5]);
    expect(r.match('/x')).toBe(undefined);
  });

  it('entries() gives the declared paths, with their `/*`', () => {
    expect(e.entries().map(([p]) => p)).toEqual(['/metrics', '/readyz', '/readyz/*']);
  });
});
