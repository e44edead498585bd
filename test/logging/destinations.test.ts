import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogging } from '../../src/logging/index.js';
import type { LoggingSubsystem } from '../../src/logging/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { LoggingOptions, ResolvedLoggingOptions } from '../../src/options.js';
import { Capture } from './helpers.js';

const dirs: string[] = [];
const open: LoggingSubsystem[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'periscope-logs-'));
  dirs.push(d);
  return d;
}

function makeLogging(logging: LoggingOptions): LoggingSubsystem {
  const resolved = resolveOptions({ serviceName: 'svc', version: '1', metrics: false, logging }, readEnv({}));
  const l = createLogging({
    options: resolved.logging as ResolvedLoggingOptions,
    service: 'svc',
    version: '1',
    report: (error) => {
      throw error;
    },
  });
  open.push(l);
  return l;
}

function readLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('file destinations', () => {
  it('writes to a file asynchronously; flush() makes every line readable', async () => {
    const dir = tempDir();
    const path = join(dir, 'nested', 'app.log');
    const logging = makeLogging({ destination: path });
    for (let i = 0; i < 1000; i++) logging.logger.info({ i }, 'line');
    await logging.flush();
    const lines = readLines(path);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('writes to several destinations at once', async () => {
    const dir = tempDir();
    const path = join(dir, 'both.log');
    const capture = new Capture();
    const logging = makeLogging({ destination: [capture, { path }], level: 'debug' });
    logging.logger.debug('one');
    logging.logger.error('two');
    await logging.flush();
    expect(capture.lines.map((l) => [l.level, l.msg])).toEqual([['debug', 'one'], ['error', 'two']]);
    expect(readLines(path).map((l) => [l.level, l.msg])).toEqual([['debug', 'one'], ['error', 'two']]);
  });

  it('writes synchronously with sync: true', () => {
    const dir = tempDir();
    const path = join(dir, 'sync.log');
    const logging = makeLogging({ destination: path, sync: true });
    logging.logger.info('now');
    expect(readLines(path).map((l) => l.msg)).toEqual(['now']);
  });
});

describe('rotation (pino-roll)', () => {
  it('rotates past the size limit and loses no line across the rotation', async () => {
    const dir = tempDir();
    const logging = makeLogging({ destination: { path: join(dir, 'app.log'), rotate: { size: '4k' } } });
    const pad = 'x'.repeat(100);
    const n = 300; // 5 batches of about 8 kB each, so each batch crosses the 4 kB limit
    for (let i = 0; i < n; i++) {
      logging.logger.info({ i, pad }, 'line');
      if (i % 60 === 59) await logging.flush();
    }
    await logging.close();
    const files = readdirSync(dir).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
    expect(files.slice(0, 2)).toEqual(['app.1.log', 'app.2.log']);
    expect(files.every((f) => /^app\.[0-9]+\.log$/.test(f))).toBe(true);
    // pino-roll rotates once a file has reached the limit (after the write in flight ends).
    for (const f of files.slice(0, -1)) expect(readFileSync(join(dir, f)).length).toBeGreaterThanOrEqual(4096);
    const all = files.flatMap((f) => readLines(join(dir, f)));
    expect(all.map((l) => l.i)).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
