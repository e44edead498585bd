import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { formatSummary, summarize } from './summary.js';

const USAGE = `Usage: periscope logs summary FILE|- [--json] [--top N]

Reads JSON log lines (periscope's, or any pino logger's) from FILE, or from standard input
with "-", one line at a time in constant memory, and prints: the number of lines and of
skipped non-JSON lines, lines per level, the most frequent error messages (each error's own
err.message; a 5xx request line without one counts as its status), requests per hour (UTC),
and per route the request count, 5xx error rate and p50/p95/p99 response time.

Percentiles are nearest-rank, computed from logarithmic buckets (a DDSketch-style sketch of
fixed size per route): each is within 1% of the exact value. Error messages are counted
exactly up to 1,000 distinct ones, then with space-saving counters (any excess is shown).

Options:
  --json     print the summary as JSON
  --top N    how many error messages to list (default 10)
  --help     print this help

Exit status: 0 on success, 1 when the input cannot be read, 2 for a usage error.
`;

interface Io {
  stdin: Readable;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Runs the CLI; resolves with the exit status. Exported for tests. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const args = [...argv];
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  let json = false;
  let top = 10;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') json = true;
    else if (a === '--top') {
      const n = Number(args[++i]);
      if (!Number.isInteger(n) || n < 1) {
        io.stderr.write(`periscope: --top needs a positive whole number, got ${JSON.stringify(args[i] ?? '')}\n`);
        return 2;
      }
      top = n;
    } else if (a.startsWith('--')) {
      io.stderr.write(`periscope: unknown option ${a}\n\n${USAGE}`);
      return 2;
    } else positional.push(a);
  }
  if (positional.length !== 3 || positional[0] !== 'logs' || positional[1] !== 'summary') {
    io.stderr.write(USAGE);
    return 2;
  }
  const file = positional[2]!;
  let input: Readable;
  if (file === '-') {
    input = io.stdin;
  } else {
    try {
      const s = await stat(file);
      if (s.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
      io.stderr.write(`periscope: cannot read ${file}: ${reason}\n`);
      return 1;
    }
    input = createReadStream(file);
  }
  try {
    const summary = await summarize(input, top);
    io.stdout.write(json ? `${JSON.stringify({ source: file === '-' ? 'stdin' : file, ...summary }, null, 2)}\n` : formatSummary(summary, file === '-' ? 'stdin' : file));
    return 0;
  } catch (error) {
    io.stderr.write(`periscope: cannot read ${file}: ${(error as Error).message}\n`);
    return 1;
  }
}
