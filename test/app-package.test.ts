import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The app's name and version come from the package.json at or above its entry script, wherever
// the process was started from. Real child processes running the built dist/, started from
// another working directory.

const distOptions = fileURLToPath(new URL('../dist/options.js', import.meta.url));
const root = realpathSync(mkdtempSync(join(tmpdir(), 'periscope-app-package-')));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** An entry script that resolves the options (with `options`) and prints the identity and the warnings. */
function entry(path: string, options: Record<string, unknown> = {}): string {
  return write(
    path,
    `import { readEnv, resolveOptions } from ${JSON.stringify(distOptions)};
const warnings = [];
const r = resolveOptions(${JSON.stringify(options)}, readEnv({}), (w) => warnings.push(w));
console.log(JSON.stringify({ serviceName: r.serviceName, version: r.version, warnings: warnings.map((w) => [w.variable, w.value]) }));
`,
  );
}

function run(script: string, cwd = tmpdir()): { serviceName: string; version: string; warnings: [string, string][] } {
  const out = execFileSync(process.execPath, [script], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out) as { serviceName: string; version: string; warnings: [string, string][] };
}

describe("the app's package.json", () => {
  it('needs the build', () => {
    expect(existsSync(distOptions), 'run `npm run build` first: the children use dist/').toBe(true);
  });

  it("is found from the entry script's folder, walking up, not from the working directory", () => {
    const app = join(root, 'shop');
    write(join(app, 'package.json'), JSON.stringify({ name: 'shop-api', version: '3.2.1' }));
    expect(run(entry(join(app, 'server.mjs')))).toEqual({ serviceName: 'shop-api', version: '3.2.1', warnings: [] });
    expect(run(entry(join(app, 'dist', 'bin', 'main.mjs')))).toEqual({ serviceName: 'shop-api', version: '3.2.1', warnings: [] });
    // The working directory holds another package: it does not matter.
    const other = join(root, 'elsewhere');
    write(join(other, 'package.json'), JSON.stringify({ name: 'not-the-app', version: '9.9.9' }));
    expect(run(join(app, 'server.mjs'), other)).toMatchObject({ serviceName: 'shop-api', version: '3.2.1' });
  });

  it('the options win; the package is then not needed and not looked for', () => {
    const app = join(root, 'shop2');
    write(join(app, 'package.json'), JSON.stringify({ name: 'shop-api', version: '3.2.1' }));
    expect(run(entry(join(app, 'server.mjs'), { version: '5.0.0' }))).toEqual({ serviceName: 'shop-api', version: '5.0.0', warnings: [] });
    const lone = join(root, 'lone-with-options');
    expect(run(entry(join(lone, 'server.mjs'), { serviceName: 'svc', version: '1.0.0' }))).toEqual({ serviceName: 'svc', version: '1.0.0', warnings: [] });
  });

  it('none found: the fallbacks, and one warning through the same callback as the environment warnings', () => {
    const lone = join(root, 'lone');
    const script = entry(join(lone, 'server.mjs'));
    expect(run(script)).toEqual({ serviceName: 'unknown_service:node', version: '0.0.0', warnings: [['package.json', lone]] });
  });

  it('none found, default warn: one process warning PERISCOPE_ENV_IGNORED, even when resolved twice', () => {
    const script = write(
      join(root, 'lone2', 'server.mjs'),
      `import { readEnv, resolveOptions } from ${JSON.stringify(distOptions)};
resolveOptions({}, readEnv({}));
resolveOptions({}, readEnv({}));
`,
    );
    const child = spawnSync(process.execPath, [script], { cwd: tmpdir(), encoding: 'utf8' });
    expect(child.status).toBe(0);
    const lines = child.stderr.split('\n').filter((l) => l.includes('PERISCOPE_ENV_IGNORED'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`periscope: found no package.json of the app at or above ${join(root, 'lone2')}`);
  });
});
