import { describe, expect, it } from 'vitest';
import { createContextKey, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { contextWithSpan, LinkedContext } from '../../src/tracing/context.js';

describe('LinkedContext behaves as the API\'s own contexts', () => {
  it('reads what the API\'s context reads after the same sets and deletes, and never changes a parent', () => {
    const keys = [createContextKey('a'), createContextKey('b'), createContextKey('c'), createContextKey('OpenTelemetry Context Key SPAN')];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    let ours: Context = new LinkedContext(ROOT_CONTEXT, keys[0]!, 'start');
    let theirs: Context = ROOT_CONTEXT.setValue(keys[0]!, 'start');
    const history: [Context, Context][] = [];
    for (let step = 0; step < 500; step++) {
      history.push([ours, theirs]);
      const key = keys[rand(keys.length)]!;
      if (rand(3) === 0) {
        ours = ours.deleteValue(key);
        theirs = theirs.deleteValue(key);
      } else {
        ours = ours.setValue(key, step);
        theirs = theirs.setValue(key, step);
      }
      for (const k of keys) expect(ours.getValue(k)).toBe(theirs.getValue(k));
    }
    // Every earlier context still reads what it read then.
    for (const [o, t] of history) for (const k of keys) expect(o.getValue(k)).toBe(t.getValue(k));
  });

  it('holds the request span for the API: trace.getSpan, trace.deleteSpan', () => {
    const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    const ctx = contextWithSpan(ROOT_CONTEXT, span);
    expect(trace.getSpan(ctx)).toBe(span);
    expect(trace.getSpan(trace.deleteSpan(ctx))).toBe(undefined);
    expect(trace.getSpan(ROOT_CONTEXT)).toBe(undefined);
  });
});
