import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canConnect, get } from './helpers.js';

/*
 * Runs the example of README.md's health example as written: the block is saved inside the
 * package (scratch/, git-ignored) so `import ... from 'periscope-node'` resolves to this package
 * through its own exports, and Node strips the types.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const CI = (process.env.CI ?? '') !== '';
const pgUp = await canConnect(5432);
if (!pgUp && !CI) console.warn('periscope health tests: SKIPPING the README example: PostgreSQL at 127.0.0.1:5432 is unreachable.');

function exampleSource(): string {
  const doc = readFileSync(`${root}README.md`, 'utf8');
  const section = doc.slice(doc.indexOf('### Health example'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('no ts block under "### Health example" in README.md');
  return match[1]!;
}

describe.skipIf(!pgUp && !CI)('README health example', () => {
  it('serves the probes it promises and drains on SIGTERM with exit code 0', async () => {
    mkdirSync(`${root}scratch`, { recursive: true });
    const file = `${root}scratch/readme-health-example.mts`;
    writeFileSync(file, exampleSource());
    const port = 20000 + (process.pid % 20000);
    const child = spawn(process.execPath, [file], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        ready = await canConnect(port);
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      expect(ready, `the example did not listen on ${port}: ${stderr}`).toBe(true);
      const res = await get(`http://127.0.0.1:${port}/readyz?verbose`);
      expect(res).toMatchObject({
        status: 200,
        body: '[+]lifecycle ok\n[+]event_loop ok\n[+]postgres ok\n[-]upstream failed (non-critical): connect ECONNREFUSED 127.0.0.1:2\nreadyz check passed (degraded)\n',
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // periscope's log (stdout by default) ends with the shutdown's own line.
      const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
      expect(last).toMatchObject({ level: 'info', msg: 'shutdown complete', code: 0, reason: 'signal SIGTERM' });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
