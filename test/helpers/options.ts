import { isPeriscopeError } from '../../src/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { EnvWarning, ResolvedOptions } from '../../src/options.js';

// What the option tests share: resolving with an identity and a given environment only, and the
// coded error an invalid option throws.

/** The identity every option test resolves with unless its options name another. */
export const identity = { serviceName: 's', version: '1' };

/** resolveOptions() over {@link identity} and `options`, reading only `env`; warnings kept, not printed. */
export function resolveWith(options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): { resolved: ResolvedOptions; warnings: EnvWarning[] } {
  const warnings: EnvWarning[] = [];
  const resolved = resolveOptions({ ...identity, ...options }, readEnv(env), (w) => warnings.push(w));
  return { resolved, warnings };
}

/** The PeriscopeError `fn` throws (anything else is rethrown; not throwing fails). */
export function thrown(fn: () => unknown): { code: string; option: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    if (isPeriscopeError(error)) return { code: error.code, option: error.option, message: error.message };
    throw error;
  }
  throw new Error('did not throw');
}
