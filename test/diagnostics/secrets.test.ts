import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { EnvWarning } from '../../src/options.js';
import { Capture } from '../logging/helpers.js';
import { listen } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'periscope-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function resolve(env: NodeJS.ProcessEnv, options: Record<string, unknown> = {}) {
  const warnings: EnvWarning[] = [];
  const resolved = resolveOptions({ serviceName: 's', version: '1', ...options }, readEnv(env), (w) => warnings.push(w));
  return { resolved, warnings };
}

function thrown(fn: () => unknown): Error & { code?: string; option?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string; option?: string };
  }
  throw new Error('did not throw');
}

describe('credentials from files (*_FILE)', () => {
  it.each(['METRICS', 'HEALTH', 'DIAGNOSTICS'] as const)('PERISCOPE_%s_TOKEN_FILE: read once, trailing newlines trimmed', (family) => {
    const path = secretFile(`${family}-token`, 'tok-from-file\n\n');
    const options = family === 'DIAGNOSTICS' ? { diagnostics: { stallMs: false } } : {};
    const { resolved } = resolve({ [`PERISCOPE_${family}_TOKEN_FILE`]: path }, options);
    const concern = resolved[family.toLowerCase() as 'metrics' | 'health' | 'diagnostics'] as { auth: unknown };
    expect(concern.auth).toEqual({ bearerToken: 'tok-from-file' });
  });

  it('a basic-auth password from a file, the user from the environment; code wins over both', () => {
    const path = secretFile('metrics-password', 'pa55-from-file\r\n');
    const env = { PERISCOPE_METRICS_USERNAME: 'prom', PERISCOPE_METRICS_PASSWORD_FILE: path };
    expect((resolve(env).resolved.metrics as { auth: unknown }).auth).toEqual({ username: 'prom', password: 'pa55-from-file' });
    const code = { metrics: { auth: { bearerToken: 'from-code' } } };
    expect((resolve(env, code).resolved.metrics as { auth: unknown }).auth).toEqual({ bearerToken: 'from-code' });
  });

  it('a missing file is an error naming the variable, never the content', () => {
    const e = thrown(() => resolve({ PERISCOPE_DIAGNOSTICS_TOKEN_FILE: join(dir, 'nope') }, { diagnostics: { stallMs: false } }));
    expect(e.code).toBe('PERISCOPE_ERR_SECRET_FILE');
    expect(e.option).toBe('PERISCOPE_DIAGNOSTICS_TOKEN_FILE');
    expect(e.message).toBe(
      `PERISCOPE_ERR_SECRET_FILE: Cannot take the credential of PERISCOPE_DIAGNOSTICS_TOKEN_FILE: it names a file that cannot be read (ENOENT: ${join(dir, 'nope')}). ` +
        'The credential is required as set, so periscope does not start without it.',
    );
  });

  it('an empty file, or both the variable and its file, are errors; a bad credential is never echoed', () => {
    expect(thrown(() => resolve({ PERISCOPE_METRICS_TOKEN_FILE: secretFile('empty', '\n') })).message).toContain('names an empty file');
    const both = thrown(() => resolve({ PERISCOPE_METRICS_TOKEN: 'x', PERISCOPE_METRICS_TOKEN_FILE: secretFile('t', 'y') }));
    expect(both.message).toContain('PERISCOPE_METRICS_TOKEN is set too; set one of them');
    const spaced = thrown(() => resolve({ PERISCOPE_METRICS_TOKEN_FILE: secretFile('spaced', 'has a space\n') }));
    expect(spaced.code).toBe('PERISCOPE_ERR_INVALID_OPTION');
    expect(spaced.message).toContain('metrics.auth (from PERISCOPE_METRICS_TOKEN)');
    expect(spaced.message).not.toContain('has a space');
  });
});

describe('GET /debug/config', () => {
  const SECRETS = ['diag-t0ken-from-file', 'metr1cs-t0ken', 'hdr-s3cret', 'url-pa55word', 'health-pa55'];

  it('shows every option with its source and masks every credential; no credential in logs, /healthz or the page', async () => {
    const logs = new Capture();
    const server = createServer((_req, res) => res.end('app'));
    const env = {
      PERISCOPE_DIAGNOSTICS_TOKEN_FILE: secretFile('diag', `${SECRETS[0]}\n`),
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_HEADERS: `x-api-key=${SECRETS[2]}`,
    };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    let obs;
    try {
      obs = instrument(server, {
        shutdown: false,
        logging: { destination: logs, sync: true },
        metrics: { auth: { bearerToken: SECRETS[1]! } },
        health: { auth: { username: 'ops', password: SECRETS[4]! } },
        tracing: { endpoint: `http://collector:${SECRETS[3]}@127.0.0.1:9/v1/traces`, exporter: 'none' },
        diagnostics: { stallMs: false },
      });
    } finally {
      for (const k of Object.keys(env)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    closers.push(() => obs.shutdown());
    const base = await listen(server);
    closers.push(async () => server.close());
    const res = await fetch(`${base}/debug/config`, { headers: { authorization: `Bearer ${SECRETS[0]}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const { options } = JSON.parse(text) as { options: Record<string, { value: unknown; source: string; variable?: string }> };
    expect(options['diagnostics.auth.bearerToken']).toEqual({ value: '******', source: 'file', variable: 'PERISCOPE_DIAGNOSTICS_TOKEN_FILE' });
    expect(options['metrics.auth.bearerToken']).toEqual({ value: '******', source: 'code' });
    expect(options['health.auth.username']).toEqual({ value: '******', source: 'code' });
    expect(options['health.auth.password']).toEqual({ value: '******', source: 'code' });
    expect(options['tracing.headers.x-api-key']).toEqual({ value: '******', source: 'env', variable: 'OTEL_EXPORTER_OTLP_HEADERS' });
    expect(options['tracing.endpoint']).toEqual({ value: 'http://******@127.0.0.1:9/v1/traces', source: 'code' });
    expect(options['logging.level']).toEqual({ value: 'debug', source: 'env', variable: 'LOG_LEVEL' });
    expect(options['metrics.path']).toEqual({ value: '/metrics', source: 'default' });
    expect(options['diagnostics.stallMs']).toEqual({ value: false, source: 'code' });
    expect(options['diagnostics.prefix']).toEqual({ value: '/debug', source: 'default' });
    expect(options.serviceName!.source).toBe('default');
    // Every top-level option is there.
    const tops = new Set(Object.keys(options).map((k) => k.split('.')[0]));
    expect([...tops].sort()).toEqual(Object.keys(obs.options).sort());

    const healthz = await (await fetch(`${base}/healthz`, { headers: { authorization: `Basic ${Buffer.from(`ops:${SECRETS[4]}`).toString('base64')}` } })).text();
    await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${SECRETS[1]}` } })).text();
    await new Promise((r) => setImmediate(r));
    // The grep: no credential anywhere periscope wrote or served.
    for (const secret of SECRETS) {
      expect(text).not.toContain(secret);
      expect(healthz).not.toContain(secret);
      expect(logs.raw.join('\n')).not.toContain(secret);
    }
  });
});
