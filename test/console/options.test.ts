import { describe, expect, it } from 'vitest';
import { resolveWith, thrown } from '../helpers/options.js';

const identity = { serviceName: 'svc', version: '1.0.0' };

function resolve(options: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const { resolved, warnings } = resolveWith({ ...identity, ...options }, env);
  return { console: resolved.console, warnings };
}

describe('console options', () => {
  it('is off unless asked for, in code or by PERISCOPE_CONSOLE', () => {
    expect(resolve({}).console).toBe(false);
    expect(resolve({ console: true }).console).toEqual({ port: 0, allowProduction: false, allowedHosts: [] });
    expect(resolve({}, { PERISCOPE_CONSOLE: '1' }).console).toEqual({ port: 0, allowProduction: false, allowedHosts: [] });
    expect(resolve({}, { PERISCOPE_CONSOLE: 'TRUE' }).console).not.toBe(false);
    expect(resolve({}, { PERISCOPE_CONSOLE: '0' }).console).toBe(false);
    // Code wins over the environment.
    expect(resolve({ console: false }, { PERISCOPE_CONSOLE: '1' }).console).toBe(false);
    expect(resolve({ console: { port: 9999, allowedHosts: ['Dev.Local'] } }).console).toEqual({ port: 9999, allowProduction: false, allowedHosts: ['dev.local'] });
  });

  it('refuses NODE_ENV=production from code with a coded error, unless allowed', () => {
    expect(thrown(() => resolve({ console: true }, { NODE_ENV: 'production' }))).toMatchObject({ code: 'PERISCOPE_ERR_CONSOLE_IN_PRODUCTION', option: 'console.allowProduction' });
    expect(resolve({ console: { allowProduction: true } }, { NODE_ENV: 'production' }).console).toMatchObject({ allowProduction: true });
  });

  it('stays off, with one warning, when only the environment turns it on in production', () => {
    const { console, warnings } = resolve({}, { NODE_ENV: 'production', PERISCOPE_CONSOLE: '1' });
    expect(console).toBe(false);
    expect(warnings.map((w) => [w.variable, w.value])).toEqual([['PERISCOPE_CONSOLE', '1']]);
    expect(warnings[0]!.message).toContain('NODE_ENV=production');
  });

  it('names the option, the value and what is allowed', () => {
    expect(thrown(() => resolve({ console: 'yes' }))).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option: 'console' });
    expect(thrown(() => resolve({ console: { port: 70000 } }))).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option: 'console.port' });
    expect(thrown(() => resolve({ console: { allowedHosts: ['evil.example:80'] } }))).toMatchObject({ option: 'console.allowedHosts' });
    expect(thrown(() => resolve({ console: { allowProduction: 'yes' } }))).toMatchObject({ option: 'console.allowProduction' });
    expect(thrown(() => resolve({ console: { host: '0.0.0.0' } }))).toMatchObject({ code: 'PERISCOPE_ERR_UNKNOWN_OPTION', option: 'console.host' });
  });
});
