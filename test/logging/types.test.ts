import { describe, expectTypeOf, it } from 'vitest';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { LoggingOptions, Periscope, PeriscopeOptions } from '../../src/index.js';
import { createLogger } from '../../src/logging/index.js';

// Checked by `npm run typecheck` (tsc over test/); the runtime part is a no-op.
describe('logging public types', () => {
  it('types obs.logger, req.log, the logging option and createLogger()', () => {
    expectTypeOf<Periscope['logger']>().toEqualTypeOf<Logger>();
    expectTypeOf<Request['log']>().toEqualTypeOf<Logger>();
    expectTypeOf<PeriscopeOptions['logging']>().toEqualTypeOf<boolean | LoggingOptions | undefined>();
    expectTypeOf(createLogger).returns.toEqualTypeOf<Logger>();
    // @ts-expect-error levels are pino's names
    const bad: LoggingOptions = { level: 'verbose' };
    void bad;
    // @ts-expect-error fields come from a fixed list
    const badField: LoggingOptions = { requests: { fields: ['body'] } };
    void badField;
  });
});
