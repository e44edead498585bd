import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BATCH_BYTES, LineBatch } from '../../src/logging/batch.js';
import { createLogging } from '../../src/logging/index.js';
import type { LoggingSubsystem } from '../../src/logging/index.js';
import { readEnv, resolveOptions } from '../../src/options.js';
import type { LoggingOptions, ResolvedLoggingOptions } from '../../src/logging/options.js';
import { Capture } from './helpers.js';

const distIndex = fileURLToPath(new URL('../../dist/logging/index.js', import.meta.url));
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
  it('writes a file at the end of the event-loop turn, not in the logging call; flush() writes at once', async () => {
    const dir = tempDir();
    const path = join(dir, 'nested', 'app.log');
    const logging = makeLogging({ destination: path });
    for (let i = 0; i < 100; i++) logging.logger.info({ i }, 'line');
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((resolve) => setImmediate(resolve));
    expect(readLines(path).map((l) => l.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    for (let i = 100; i < 1000; i++) logging.logger.info({ i }, 'line');
    await logging.flush();
    expect(readLines(path).map((l) => l.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
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

describe('destinations batch the lines of one event-loop turn', () => {
  it('hands one turn’s lines on as one write, in order, and a full buffer at once', async () => {
    const writes: string[] = [];
    const batch = new LineBatch({ write: (d) => writes.push(d.toString('utf8')) }, (error) => {
      throw error;
    });
    batch.write('a\n');
    batch.write('é\n');
    batch.write('c\n');
    expect(writes).toEqual([]);
    expect(batch.pending).toBe(7);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\né\nc\n']);
    batch.write('d\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['a\né\nc\n', 'd\n']);
    // A line that may not fit in what is left of the buffer (counted at the worst case, 3 bytes
    // per UTF-16 unit) sends the rest first: 1000-byte lines, the 64th finds 63,000 bytes used.
    const line = 'x'.repeat(999) + '\n';
    for (let i = 0; i < 63; i++) batch.write(line);
    expect(writes).toHaveLength(2);
    batch.write(line);
    expect(writes).toHaveLength(3);
    expect(writes[2]).toBe(line.repeat(63));
    expect(batch.pending).toBe(1000);
    // A line longer than the whole buffer goes on its own, after what was pending.
    const huge = 'y'.repeat(BATCH_BYTES) + '\n';
    batch.write(huge);
    expect(writes.slice(3)).toEqual([line, huge]);
    expect(batch.pending).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(5);
    batch.detach();
  });

  it('a target that borrows gets a view of the staging buffer; one that does not gets a copy of its own', async () => {
    const borrowed: Buffer[] = [];
    const owned: Buffer[] = [];
    const report = (error: unknown) => {
      throw error;
    };
    const lending = new LineBatch({ borrows: true, write: (d) => borrowed.push(d) }, report);
    const copying = new LineBatch({ write: (d) => owned.push(d) }, report);
    for (const batch of [lending, copying]) batch.write('first\n');
    await new Promise((resolve) => setImmediate(resolve));
    for (const batch of [lending, copying]) batch.write('other\n');
    await new Promise((resolve) => setImmediate(resolve));
    // The borrowed view is the staging buffer, written over by the next turn; the copy is not.
    expect(borrowed.map((d) => d.toString('utf8'))).toEqual(['other\n', 'other\n']);
    expect(borrowed[0]!.buffer).toBe(borrowed[1]!.buffer);
    expect(owned.map((d) => d.toString('utf8'))).toEqual(['first\n', 'other\n']);
    lending.detach();
    copying.detach();
  });

  it("pino's logger.flush(cb) writes the pending lines before cb runs", () => {
    const dir = tempDir();
    const path = join(dir, 'flush.log');
    const logging = makeLogging({ destination: path });
    logging.logger.info({ i: 1 }, 'line');
    expect(readFileSync(path, 'utf8')).toBe('');
    let called = false;
    logging.logger.flush(() => {
      called = true;
    });
    expect(called).toBe(true);
    expect(readLines(path).map((l) => l.i)).toEqual([1]);
  });

  it('a target that throws is reported, and the next lines still go', async () => {
    const errors: string[] = [];
    const writes: string[] = [];
    let fail = true;
    const batch = new LineBatch(
      {
        write: (d) => {
          if (fail) throw new Error('disk gone');
          writes.push(d.toString('utf8'));
        },
      },
      (error, where) => errors.push(`${where}: ${(error as Error).message}`),
    );
    batch.write('lost\n');
    await new Promise((resolve) => setImmediate(resolve));
    fail = false;
    batch.write('kept\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual(['log-write: disk gone']);
    expect(writes).toEqual(['kept\n']);
    batch.detach();
  });

  it.each(['drop', 'block'])('process.exit() right after logging loses no line (a real child process, stdout and a file; onBackpressure: %s)', async (onBackpressure) => {
    expect(existsSync(distIndex), 'run `npm run build` first: the child uses dist/').toBe(true);
    const dir = tempDir();
    const path = join(dir, 'exit.log');
    // 2,000 lines in one turn (more than one batch), then exit before any immediate runs.
    const script = `
      const { createLogger } = await import(${JSON.stringify(distIndex)});
      const toStdout = createLogger({ serviceName: 'exit', destination: 'stdout', onBackpressure: '${onBackpressure}' });
      const toFile = createLogger({ serviceName: 'exit', destination: ${JSON.stringify(path)}, onBackpressure: '${onBackpressure}' });
      for (let i = 0; i < 2000; i++) { toStdout.info({ i }, 'out'); toFile.info({ i }, 'file'); }
      process.exit(0);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    const fromStdout = out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { i: number }).i);
    expect(fromStdout).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    expect(readLines(path).map((l) => l.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});

describe('a log file that cannot be opened', () => {
  it('fails at instrument() with PERISCOPE_ERR_INVALID_OPTION naming logging.destination and the reason', () => {
    const dir = tempDir();
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, '');
    let caught: unknown;
    try {
      makeLogging({ destination: join(notADir, 'app.log') });
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'PERISCOPE_ERR_INVALID_OPTION', option: 'logging.destination' });
    expect((caught as Error).message).toBe(
      `PERISCOPE_ERR_INVALID_OPTION: Invalid option \`logging.destination\`: got "${join(notADir, 'app.log')}"; allowed: a file path that can be opened for appending (opening it failed: EEXIST).`,
    );
  });
});
