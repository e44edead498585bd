import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };

/** Each entry point of the package, with the source file its `dist/` file is built from. */
const entries = Object.entries(pkg.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([subpath, target]) => {
    const js = typeof target === 'string' ? target : target.default;
    return [subpath, join(root, js.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))] as const;
  });

/** Every name an entry exports, values and types alike, as the TypeScript compiler sees it. */
function exportNames(): Record<string, string[]> {
  const program = ts.createProgram(
    entries.map(([, file]) => file),
    { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true, noEmit: true, skipLibCheck: true },
  );
  const checker = program.getTypeChecker();
  return Object.fromEntries(
    entries.map(([subpath, file]) => {
      const source = program.getSourceFile(file)!;
      const symbol = checker.getSymbolAtLocation(source)!;
      return [subpath, checker.getExportsOfModule(symbol).map((s) => s.getName()).sort()];
    }),
  );
}

describe('the public surface', () => {
  // A change here is a change of the package's API: make it on purpose, with the README's list
  // ("What each entry point exports") and the CHANGELOG in the same commit.
  it('exports exactly these names from each entry point', () => {
    expect(exportNames()).toMatchSnapshot();
  });

  it('every entry point is listed in the README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const name = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string }).name;
    for (const [subpath] of entries) expect(readme).toContain(`\`${subpath === '.' ? name : `${name}/${subpath.slice(2)}`}\``);
  });
});
