import { createServer } from 'node:http';
import type { Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { describe, expectTypeOf, it } from 'vitest';
import type { Registry } from '@prometheus-io/client';
import { instrument, isPeriscopeError } from '../src/index.js';
import type { MetricsOptions, Periscope, PeriscopeError, PeriscopeErrorCode, PeriscopeOptions, ShutdownReport } from '../src/index.js';

// Checked by `npm run typecheck` (tsc over test/); the runtime part is a no-op.
describe('public types', () => {
  it('instrument() takes any app and options, and returns the handle', () => {
    expectTypeOf(instrument).parameter(1).toEqualTypeOf<PeriscopeOptions | undefined>();
    expectTypeOf(instrument).returns.toEqualTypeOf<Periscope>();
    expectTypeOf<Periscope['registry']>().toEqualTypeOf<Registry>();
    expectTypeOf<Periscope['managementServer']>().toEqualTypeOf<Server | undefined>();
    expectTypeOf<Periscope['managementAddress']>().returns.toEqualTypeOf<Promise<AddressInfo | undefined>>();
    expectTypeOf<Periscope['shutdown']>().returns.toEqualTypeOf<Promise<ShutdownReport>>();
    expectTypeOf<Periscope['framework']>().toEqualTypeOf<'fastify' | 'express' | 'node-http'>();
  });

  it('instrument() takes a Fastify instance, an Express app or a node:http server, and nothing else', () => {
    // Never called: only the compiler's verdict matters here.
    const check = (): void => {
      // @ts-expect-error a string is no app
      instrument('app');
      // @ts-expect-error nor is a plain object
      instrument({ get() {} });
      // @ts-expect-error nor a bare function
      instrument(() => {});
      instrument(createServer());
      instrument(Fastify());
      instrument(express());
    };
    void check;
  });

  it('options are typed, with no any', () => {
    expectTypeOf<PeriscopeOptions['metrics']>().toEqualTypeOf<boolean | MetricsOptions | undefined>();
    expectTypeOf<NonNullable<PeriscopeOptions['routes']>>().toEqualTypeOf<readonly string[]>();
    // @ts-expect-error port is a number
    const bad: PeriscopeOptions = { metrics: { port: '9464' } };
    void bad;
  });

  it('errors carry a code from the table and narrow through the guard', () => {
    expectTypeOf<PeriscopeError['code']>().toEqualTypeOf<PeriscopeErrorCode>();
    expectTypeOf<'PERISCOPE_ERR_INVALID_OPTION'>().toExtend<PeriscopeErrorCode>();
    const e: unknown = new Error('x');
    if (isPeriscopeError(e)) expectTypeOf(e).toEqualTypeOf<PeriscopeError>();
  });
});
