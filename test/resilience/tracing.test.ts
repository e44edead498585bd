import { AsyncLocalStorage } from 'node:async_hooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import type { Attributes, Context, ContextManager, Exception, Link, Span, SpanContext, SpanStatus, TimeInput } from '@opentelemetry/api';
import { CircuitBreaker } from '../../src/resilience/index.js';

// Test doubles, because no OpenTelemetry SDK is a dependency of this branch: a context
// manager on AsyncLocalStorage (what the SDK's does) and a span that records its events.
class AlsContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

class RecordingSpan implements Span {
  readonly events: { name: string; attributes: Attributes | undefined }[] = [];
  spanContext(): SpanContext {
    return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(name: string, attributes?: Attributes | TimeInput): this {
    this.events.push({ name, attributes: attributes as Attributes | undefined });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(_status: SpanStatus): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return true;
  }
  recordException(_exception: Exception): void {}
}

beforeAll(() => {
  context.setGlobalContextManager(new AlsContextManager());
});
afterAll(() => {
  context.disable();
});

test('a rejected call adds an event to the active span; an admitted call runs in the caller\'s context', async () => {
  const b = new CircuitBreaker('inventory', { window: { type: 'count', size: 5 }, minimumCalls: 1 });
  const span = new RecordingSpan();
  await context.with(trace.setSpan(context.active(), span), async () => {
    let activeInCall: Span | undefined;
    await b
      .execute(async () => {
        await Promise.resolve();
        activeInCall = trace.getActiveSpan();
        throw new Error('down');
      })
      .catch(() => {});
    expect(activeInCall).toBe(span);
    expect(span.events).toEqual([]);
    await b.execute(() => 'never runs').catch(() => {});
  });
  expect(span.events).toEqual([
    { name: 'circuit_breaker.rejected', attributes: { 'circuit_breaker.name': 'inventory', 'circuit_breaker.state': 'open' } },
  ]);
  // Without an active span a rejection is still just a rejection.
  await expect(b.execute(() => 'x')).rejects.toMatchObject({ code: 'PERISCOPE_ERR_CIRCUIT_OPEN' });
  expect(span.events).toHaveLength(1);
});
