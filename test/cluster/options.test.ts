import { describe, expect, it } from 'vitest';
import { resolvePrimary } from '../../src/cluster/index.js';
import { instrumentPrimary, isPeriscopeError } from '../../src/index.js';
import { resolveOptions } from '../../src/options.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isPeriscopeError(error) ? error.message : String(error);
  }
  return undefined;
}

describe('cluster options', () => {
  it('instrument(): defaults, metrics.port as the fallback port, false', () => {
    expect(resolveOptions({ serviceName: 's', version: '1' }, {}).cluster).toEqual({ primaryTimeoutMs: 1000, fallbackPort: 9464, fallbackHost: undefined, instance: undefined });
    expect(resolveOptions({ serviceName: 's', version: '1', metrics: { port: 9100, host: '127.0.0.1' } }, { NODE_APP_INSTANCE: '2' }).cluster).toEqual({
      primaryTimeoutMs: 1000,
      fallbackPort: 9100,
      fallbackHost: '127.0.0.1',
      instance: 2,
    });
    expect(resolveOptions({ serviceName: 's', version: '1', cluster: false }, {}).cluster).toBe(false);
    expect(code(() => resolveOptions({ serviceName: 's', version: '1', cluster: { primaryTimeoutMs: 0 } }, {}))).toBe(
      'PERISCOPE_ERR_INVALID_OPTION: Invalid option `cluster.primaryTimeoutMs`: got 0; allowed: an integer from 1 to 60000 (milliseconds).',
    );
    expect(code(() => resolveOptions({ serviceName: 's', version: '1', cluster: { port: 1 } }, {}))).toMatch(/^PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `cluster.port`/);
  });

  it('instrumentPrimary(): defaults, and each invalid option named', () => {
    const o = resolvePrimary(undefined, '2.0.0');
    expect(o).toEqual({
      version: '2.0.0',
      metrics: { port: 9464, host: undefined, path: '/metrics', registry: undefined, defaultMetrics: true },
      cluster: { collectTimeoutMs: 2000, onWorkerTimeout: 'omit', minReadyWorkers: 1 },
      health: { livePath: '/livez', readyPath: '/readyz', healthPath: '/healthz' },
      shutdown: { timeoutMs: 30_000, exit: true },
    });
    expect(Object.isFrozen(o.metrics)).toBe(true);
    expect(code(() => resolvePrimary({ cluster: { onWorkerTimeout: 'retry' } }, '1'))).toBe(
      "PERISCOPE_ERR_INVALID_OPTION: Invalid option `cluster.onWorkerTimeout`: got \"retry\"; allowed: 'omit' or 'fail'.",
    );
    expect(code(() => resolvePrimary({ metrics: { port: 70000 } }, '1'))).toMatch(/`metrics.port`: got 70000/);
    expect(code(() => resolvePrimary({ metrics: false }, '1'))).toMatch(/`metrics`/);
    expect(code(() => resolvePrimary({ workers: 2 }, '1'))).toMatch(/^PERISCOPE_ERR_UNKNOWN_OPTION: Unknown option `workers`/);
    expect(resolvePrimary({ health: false, shutdown: false }, '1')).toMatchObject({ health: false, shutdown: false });
  });

  it('instrumentPrimary() in a process that is not a cluster primary throws', async () => {
    // vitest runs this file in a worker thread of a process that is a cluster primary: pretend otherwise.
    const cluster = (await import('node:cluster')).default;
    const isPrimary = Object.getOwnPropertyDescriptor(cluster, 'isPrimary')!;
    Object.defineProperty(cluster, 'isPrimary', { value: false, configurable: true });
    try {
      expect(code(() => instrumentPrimary())).toMatch(/^PERISCOPE_ERR_INVALID_ARGUMENT: instrumentPrimary\(\): the calling process must be the cluster primary/);
    } finally {
      Object.defineProperty(cluster, 'isPrimary', isPrimary);
    }
  });
});
