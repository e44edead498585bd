import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { Receiver, INTERNAL_KIND, PARENT_SPAN, PARENT_TRACE, SERVER_KIND } from './helpers.js';

// The README's tracing example (a long-running server, fenced as "js server" so the generic
// sample runner leaves it to this test) runs as written, importing 'periscope-node' by name (the
// package refers to itself, so this uses dist/, which `npm test` builds first).
const doc = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const example = /```js server\n([\s\S]*?)```/.exec(doc)![1]!;
const file = fileURLToPath(new URL('./.readme-example.mjs', import.meta.url));
afterAll(() => rmSync(file, { force: true }));

it('the README example serves, continues the caller trace and exports its spans on shutdown', async () => {
  writeFileSync(file, example);
  const receiver = new Receiver();
  const endpoint = await receiver.start();
  const child = spawn(process.execPath, [file], { env: { ...process.env, PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint }, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`example exited with ${code}`)));
    });
    const res = await fetch(`${address}/users/7`, { headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-01` } });
    expect(await res.json()).toEqual({ id: '7' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const spans = await receiver.waitFor(2);
    const server = spans.find((s) => s.kind === SERVER_KIND)!;
    const db = spans.find((s) => s.kind === INTERNAL_KIND)!;
    expect(server.name).toBe('GET /users/:id');
    expect(server.traceId).toBe(PARENT_TRACE);
    expect(server.resource['service.name']).toBe('users-api');
    expect(db.name).toBe('db.load_user');
    expect(db.parentSpanId).toBe(server.spanId);
    expect(db.attributes).toEqual({ 'app.user_id': '7' });
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await receiver.close();
  }
});
