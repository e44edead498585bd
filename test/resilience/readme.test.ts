import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, expect, test, vi } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const doc = readFileSync(join(root, 'docs', 'readme-resilience.md'), 'utf8');

/** Each ```js example of the README section with the output the text says it prints. */
const examples = [...doc.matchAll(/```js\n([\s\S]*?)```\nprints(?: `([^`]*)`|\n```\n([\s\S]*?)```)/g)].map((m) => ({
  code: m[1]!,
  prints: (m[2] ?? m[3]!).trimEnd(),
}));

afterEach(() => {
  vi.restoreAllMocks();
});

test('the README section has its examples', () => {
  expect(examples).toHaveLength(2);
});

test.each(examples.map((e, i) => [i, e] as const))('README example %i runs and prints what the text says', async (i, example) => {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  // Inside the repository so that fastify resolves; node_modules is ignored by git.
  const dir = join(root, 'node_modules', '.cache', 'periscope-doc-examples');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `resilience-${i}-${process.pid}.ts`);
  const code = example.code
    .replaceAll("from 'periscope/resilience'", `from ${JSON.stringify(join(root, 'src', 'resilience', 'index.ts'))}`)
    .replaceAll("from 'periscope'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`);
  writeFileSync(file, `${code}\nexport {};\n`);
  await import(pathToFileURL(file).href);
  expect(lines.join('\n')).toBe(example.prints);
});
