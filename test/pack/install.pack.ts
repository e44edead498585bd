import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/*
 * What a user gets: `npm pack` (its prepack builds dist/), the tarball installed into a fresh app
 * beside fastify, express and typescript from the npm registry, a strict TypeScript consumer
 * type-checked and run, and the README's quick start and tour run against the installed package
 * (the tour as ESM and as CommonJS). Every node here is the project's own Node 24; npm is the one on PATH.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const node = join(root, 'node_modules/.bin/node');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
/** The app's own packages at the lockfile's versions (what this repo tests against; the npm cache has them). */
const appPackages = ['fastify', 'express', 'typescript', '@types/node', '@types/express'].map((name) => `${name}@${lock.packages[`node_modules/${name}`]!.version}`);
/** npm's variables from an enclosing `npm run` (such as npm_config_local_prefix) must not steer the app's npm. */
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
const tmp = mkdtempSync(join(tmpdir(), 'periscope-pack-'));
const app = join(tmp, 'app');
let tarball = '';

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund'], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Runs a file of the app on Node 24, request logs off, and returns what it printed. */
async function runInApp(file: string): Promise<string> {
  const { stdout } = await run(node, [file], { cwd: app, env: { ...env, LOG_LEVEL: 'silent', NODE_NO_WARNINGS: '1' }, timeout: 30_000 });
  return stdout;
}

/** The ```js blocks of the README's "60-second tour", with the output each promises in its comments. */
function tour(): { code: string; prints: string[] }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('## 60-second tour');
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => {
    const code = m[1]!;
    const lines = code.split('\n');
    const prints: string[] = [];
    lines.forEach((line, i) => {
      if (!line.includes('console.log(')) return;
      const inline = /\);\s*\/\/ (.+)$/.exec(line);
      if (inline) prints.push(inline[1]!.trim());
      else if (lines[i + 1]?.trim().startsWith('// ')) prints.push(lines[i + 1]!.trim().slice(3));
    });
    return { code, prints };
  });
}

/** The same sample as CommonJS: imports become require() calls, the body an async function. */
function toCommonJs(code: string): string {
  const body = code
    .replace(/^import \* as (\w+) from '([^']+)';$/gm, "const $1 = require('$2');")
    .replace(/^import (\w+) from '([^']+)';$/gm, "const $1 = require('$2');")
    .replace(/^import \{([^}]+)\} from '([^']+)';$/gm, (_, names: string, from: string) => `const {${names.replace(/\bas\b/g, ':')}} = require('${from}');`);
  if (/^import /m.test(body)) throw new Error(`an import the CommonJS conversion does not know:\n${body}`);
  return `'use strict';\n(async () => {\n${body}\n})().catch((error) => {\n  console.error(error);\n  process.exitCode = 1;\n});\n`;
}

beforeAll(async () => {
  // --ignore-scripts would skip prepack: the build must come from `npm pack` itself.
  await npm(['pack', '--pack-destination', tmp], root);
  tarball = join(tmp, readdirSync(tmp).find((f) => f.endsWith('.tgz'))!);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-consumer', private: true, type: 'module' }, null, 2));
  await npm(['install', '--prefer-offline', tarball, ...appPackages], app);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed tarball', () => {
  it('holds the build, the CLI, the README and the licence, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n');
    expect(tarball.endsWith('periscope-node-0.1.0.tgz')).toBe(true);
    for (const file of ['package/package.json', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/metrics/index.js', 'package/dist/cli/bin.js']) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => !f.startsWith('package/dist/')).sort()).toEqual(['package/LICENSE', 'package/README.md', 'package/package.json']);
    // src/ is not shipped, so each source map carries its source: the map of index.js names one
    // source, and its text is the TypeScript of src/index.ts.
    const map = JSON.parse(readFileSync(join(app, 'node_modules/periscope-node/dist/index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sources).toEqual(['../src/index.ts']);
    expect(map.sourcesContent?.[0]).toBe(readFileSync(join(root, 'src/index.ts'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/periscope-node/package.json'), 'utf8')) as { name: string; bin: Record<string, string> };
    expect(manifest.name).toBe('periscope-node');
    expect(manifest.bin).toEqual({ periscope: './dist/cli/bin.js' });
    // The CLI keeps its name: npm links it as node_modules/.bin/periscope.
    const help = await run(join(app, 'node_modules/.bin/periscope'), ['--help'], { cwd: app, env });
    expect(help.stdout.split('\n')[0]).toMatch(/^Usage: periscope /);
  });

  it('gives a strict TypeScript consumer types that check, and that reject misuse', async () => {
    copyFileSync(fileURLToPath(new URL('./consumer.mts', import.meta.url)), join(app, 'consumer.mts'));
    // Misuse the types must reject: were they `any`, these directives would be unused (an error).
    writeFileSync(
      join(app, 'misuse.mts'),
      [
        "import { instrument, Counter } from 'periscope-node';",
        "import Fastify from 'fastify';",
        'const obs = instrument(Fastify());',
        '// @ts-expect-error a breaker name is a string',
        'obs.breaker(42);',
        '// @ts-expect-error a check is a function',
        "obs.health.register('db', 'SELECT 1');",
        '// @ts-expect-error a counter needs its help text',
        "new Counter({ name: 'x_total' });",
        '',
      ].join('\n'),
    );
    const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2023', noEmit: true, skipLibCheck: false, types: ['node'] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.mts', 'misuse.mts'] }, null, 2));
    const tsc = await run(node, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app], { cwd: app, env }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(tsc.stdout).toBe('');
  });

  it('runs that consumer on Fastify and Express, with business metrics in obs.registry', async () => {
    const stdout = await runInApp('consumer.mts');
    expect(stdout.split('\n').filter((l) => l.startsWith('> '))).toEqual([
      '> body {"id":"42","paid":"paid","traced":32}',
      '> http_requests_total{method="GET",route="/users/:id",status_code="200"} 1',
      '> orders_placed_total{channel="web"} 1',
      '> queue_depth 3',
      '> work_seconds_count 1',
      '> payload_bytes_count 1',
      '> healthz degraded 1.2.3 queue=degraded backlog',
      '> registry true same-class true',
      '> body {"id":"7"}',
      '> http_requests_total{method="GET",route="/api/orders/:id",status_code="200"} 1',
      '> error PERISCOPE_ERR_INVALID_OPTION',
      '> shutdown 2',
    ]);
  });

  it("runs the README's quick start: the app serves its route, and /metrics counts it as the README shows", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const code = /```js quickstart\n([\s\S]*?)```/.exec(readme)![1]!;
    const shell = /```sh\nnode app\.mjs &\n([\s\S]*?)```/.exec(readme)![1]!;
    const promised = /^# (http_requests_total.*)$/m.exec(shell)![1]!;
    writeFileSync(join(app, 'app.mjs'), code);
    const child = spawn(node, ['app.mjs'], { cwd: app, env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      for await (const chunk of child.stdout) {
        out += String(chunk);
        if (/listening on (\S+)\n/.test(out)) break;
      }
      const base = /listening on (\S+)\n/.exec(out)![1]!;
      expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${base}/hello/world`)).json()).toEqual({ hello: 'world' });
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics.split('\n').filter((l) => l.startsWith('http_requests_total'))).toEqual([promised]);
    } finally {
      child.kill();
    }
  });

  const samples = tour();
  it('finds the README tour: three samples, each promising its output', () => {
    expect(samples.map((s) => s.prints.length)).toEqual([1, 1, 1]);
    expect(samples[0]!.prints).toEqual(['http_requests_total{method="GET",route="/users/:id",status_code="200"} 1']);
  });

  it.each(samples.map((s, i) => [i + 1, s] as const))('runs README tour sample %i as ESM, printing what it promises', async (i, { code, prints }) => {
    writeFileSync(join(app, `tour-${i}.mjs`), code);
    expect((await runInApp(`tour-${i}.mjs`)).trimEnd()).toBe(prints.join('\n'));
  });

  it.each(samples.map((s, i) => [i + 1, s] as const))('runs README tour sample %i as CommonJS (require), printing what it promises', async (i, { code, prints }) => {
    writeFileSync(join(app, `tour-${i}.cjs`), toCommonJs(code));
    expect((await runInApp(`tour-${i}.cjs`)).trimEnd()).toBe(prints.join('\n'));
  });
});
