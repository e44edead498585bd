import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
/** Each ```js sample, with the exact output the text says it prints ("prints `x`" or a "prints" block), if it says. */
const samples = [...readme.matchAll(/```js\n([\s\S]*?)```(?:\nprints(?: `([^`]*)`|\n```\n([\s\S]*?)```))?/g)].map((m) => ({
  code: m[1]!,
  prints: m[2] ?? m[3],
}));
// Inside the package, so `import 'periscope-node'` resolves to this package's build.
const dir = new URL('./.readme/', import.meta.url);

/** `console.log(x); // expected` or a comment line right below a console.log: the output it promises. */
function promisedOutput(code: string): string[] {
  const lines = code.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!line.includes('console.log(')) return;
    const inline = /\);\s*\/\/ (.+)$/.exec(line);
    if (inline) out.push(inline[1]!.trim());
    else if (lines[i + 1]?.trim().startsWith('// ')) out.push(lines[i + 1]!.trim().slice(3));
  });
  return out;
}

describe('README code samples', () => {
  it('has samples to run', () => {
    expect(samples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(samples.map((sample, i) => [i + 1, sample] as const))('sample %i runs and prints what it promises', async (i, { code, prints }) => {
    mkdirSync(dir, { recursive: true });
    const file = new URL(`sample-${i}.mjs`, dir);
    writeFileSync(file, code);
    // Samples promise their own output; periscope's request log lines (on by default, to stdout) are not part of it.
    const { stdout } = await run(process.execPath, [file.pathname], { timeout: 15_000, env: { ...process.env, NODE_NO_WARNINGS: '1', LOG_LEVEL: 'silent' } });
    for (const expected of promisedOutput(code)) expect(stdout).toContain(expected);
    if (prints !== undefined) expect(stdout.trimEnd()).toBe(prints.trimEnd());
  });
});
