import { describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instrument } from '../../src/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { EnvWarning } from '../../src/options.js';
import { thrown } from '../helpers/options.js';

const env = (logLevel?: string) => readEnv(logLevel === undefined ? {} : { LOG_LEVEL: logLevel });

describe('logging options', () => {
  it('resolves the defaults', () => {
    const r = resolveOptions({}, env());
    expect(r.logging).toEqual({
      level: 'info',
      destinations: ['stdout'],
      sync: false,
      onBackpressure: 'drop',
      maxBufferBytes: 4194304,
      redact: [],
      levelFormat: 'label',
      requests: {
        levels: { success: 'info', clientError: 'warn', serverError: 'error' },
        fields: ['request_id', 'method', 'route', 'path', 'status_code', 'duration_ms', 'bytes', 'client_address', 'user_agent'],
      },
      requestId: { header: 'x-request-id', maxLength: 128 },
    });
    expect(Object.isFrozen(r.logging)).toBe(true);
    expect(resolveOptions({ logging: false }, env()).logging).toBe(false);
  });

  it('reads LOG_LEVEL; the option wins, and a bad LOG_LEVEL only matters without it', () => {
    expect((resolveOptions({}, env('debug')).logging as { level: string }).level).toBe('debug');
    expect((resolveOptions({}, env('WARN')).logging as { level: string }).level).toBe('warn');
    expect((resolveOptions({ logging: { level: 'error' } }, env('debug')).logging as { level: string }).level).toBe('error');
    const warnings: EnvWarning[] = [];
    const collect = (w: EnvWarning) => warnings.push(w);
    const identity = { serviceName: 's', version: '1' };
    expect((resolveOptions({ ...identity, logging: { level: 'error' } }, env('loud'), collect).logging as { level: string }).level).toBe('error');
    expect(warnings).toEqual([]);
    // Without the option, a bad LOG_LEVEL warns once and is ignored, as the OpenTelemetry spec asks of its variables.
    expect((resolveOptions(identity, env('loud'), collect).logging as { level: string }).level).toBe('info');
    expect(warnings).toEqual([
      {
        variable: 'LOG_LEVEL',
        value: 'loud',
        allowed: 'trace, debug, info, warn, error, fatal, silent',
        message: 'periscope: ignoring LOG_LEVEL="loud"; allowed: trace, debug, info, warn, error, fatal, silent. It is treated as unset.',
      },
    ]);
  });

  it('names the option, the value and what is allowed', () => {
    expect(thrown(() => resolveOptions({ logging: { level: 'verbose' } }, env())).option).toBe('logging.level');
    expect(thrown(() => resolveOptions({ logging: { destination: '' } }, env())).option).toBe('logging.destination');
    expect(thrown(() => resolveOptions({ logging: { destination: [] } }, env())).option).toBe('logging.destination');
    expect(thrown(() => resolveOptions({ logging: { destination: ['stdout', 42] } }, env())).option).toBe('logging.destination[1]');
    expect(thrown(() => resolveOptions({ logging: { destination: { path: 'a.log', rotate: { size: '10x' } } } }, env()))).toMatchObject({
      option: 'logging.destination.rotate.size',
      message: 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `logging.destination.rotate.size`: got "10x"; allowed: a positive integer number of bytes or a string such as "512k", "10m" or "1g".',
    });
    expect(thrown(() => resolveOptions({ logging: { destination: { path: 'a.log', rotate: {} } } }, env())).option).toBe('logging.destination.rotate');
    expect(thrown(() => resolveOptions({ logging: { destination: { path: 'a.log', rotate: { frequency: 10 } } } }, env())).option).toBe('logging.destination.rotate.frequency');
    expect(thrown(() => resolveOptions({ logging: { destination: { path: 'a.log', rotate: { size: 1, keep: 0 } } } }, env())).option).toBe('logging.destination.rotate.keep');
    expect(thrown(() => resolveOptions({ logging: { requests: { fields: ['route', 'body'] } } }, env())).option).toBe('logging.requests.fields');
    expect(thrown(() => resolveOptions({ logging: { requests: { levels: { success: 'loud' } } } }, env())).option).toBe('logging.requests.levels.success');
    expect(thrown(() => resolveOptions({ logging: { requestId: { header: 'bad header' } } }, env())).option).toBe('logging.requestId.header');
    expect(thrown(() => resolveOptions({ logging: { requestId: { maxLength: 0 } } }, env())).option).toBe('logging.requestId.maxLength');
    expect(thrown(() => resolveOptions({ logging: { redact: ['ok', ''] } }, env())).option).toBe('logging.redact');
    expect(thrown(() => resolveOptions({ logging: { levelFormat: 'emoji' } }, env())).option).toBe('logging.levelFormat');
    expect(thrown(() => resolveOptions({ logging: { onBackpressure: 'wait' } }, env()))).toMatchObject({
      code: 'PERISCOPE_ERR_INVALID_OPTION',
      option: 'logging.onBackpressure',
      message: 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `logging.onBackpressure`: got "wait"; allowed: "drop" or "block".',
    });
    expect(thrown(() => resolveOptions({ logging: { maxBufferBytes: -1 } }, env()))).toMatchObject({
      code: 'PERISCOPE_ERR_INVALID_OPTION',
      option: 'logging.maxBufferBytes',
      message: 'PERISCOPE_ERR_INVALID_OPTION: Invalid option `logging.maxBufferBytes`: got -1; allowed: an integer from 0 to 1073741824 (bytes).',
    });
    expect(thrown(() => resolveOptions({ logging: { maxBufferBytes: 1.5 } }, env())).option).toBe('logging.maxBufferBytes');
    expect(thrown(() => resolveOptions({ logging: { maxBufferBytes: '4m' } }, env())).option).toBe('logging.maxBufferBytes');
    expect(resolveOptions({ logging: { onBackpressure: 'block', maxBufferBytes: 0 } }, env()).logging).toMatchObject({ onBackpressure: 'block', maxBufferBytes: 0 });
    expect(thrown(() => resolveOptions({ logging: { colour: true } }, env()))).toMatchObject({ code: 'PERISCOPE_ERR_UNKNOWN_OPTION', option: 'logging.colour' });
    expect(thrown(() => resolveOptions({ logging: 'yes' }, env())).option).toBe('logging');
  });

  it('keeps the caller\'s object untouched and lowercases the request ID header', () => {
    const given = { requestId: { header: 'X-Correlation-ID' }, destination: ['stdout', 'stderr'] };
    const r = resolveOptions({ logging: given }, env());
    expect((r.logging as { requestId: { header: string } }).requestId.header).toBe('x-correlation-id');
    expect(given).toEqual({ requestId: { header: 'X-Correlation-ID' }, destination: ['stdout', 'stderr'] });
  });
});

describe('obs.logger and shutdown', () => {
  it('gives a silent logger with logging: false', async () => {
    const server = createServer((_req, res) => res.end());
    const obs = instrument(server, { logging: false, metrics: false, routes: ['/'] });
    expect(obs.logger.isLevelEnabled('fatal')).toBe(false);
    await obs.shutdown();
  });

  it('flushes the asynchronous file destination on shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'periscope-shutdown-'));
    try {
      const path = join(dir, 'app.log');
      const server = createServer((_req, res) => res.end());
      const obs = instrument(server, { metrics: false, routes: ['/'], logging: { destination: path } });
      for (let i = 0; i < 500; i++) obs.logger.info({ i }, 'before shutdown');
      await obs.shutdown();
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(500);
      expect(JSON.parse(lines[499]!)).toMatchObject({ i: 499, msg: 'before shutdown' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
