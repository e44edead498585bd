import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AUTH, start, TOKEN } from './helpers.js';
import type { Started } from './helpers.js';

const open: Started[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});
const dir = mkdtempSync(join(tmpdir(), 'periscope-diag-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Burns CPU for `ms` milliseconds: the function the profile must find. */
function hotLoop(ms: number): number {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) for (let i = 0; i < 1000; i++) x += Math.sqrt(x + i);
  return x;
}

/** Objects kept alive on purpose, so the heap profile has an allocation site to show. */
const kept: object[] = [];
function allocateOnPurpose(n: number): void {
  for (let i = 0; i < n; i++) kept.push({ index: i, payload: new Array(64).fill(i) });
}

function names(profile: Profile, sampleIndex: number): string[] {
  const strings = profile.stringTable.strings;
  const fn = new Map(profile.function.map((f) => [Number(f.id), strings[Number(f.name)]!]));
  const loc = new Map(profile.location.map((l) => [Number(l.id), fn.get(Number(l.line[0]!.functionId))!]));
  return profile.sample[sampleIndex]!.locationId.map((id) => loc.get(Number(id))!);
}

/** The function names of a profile's samples (leaf first) with the sample's value at `valueIndex`. */
function byLeaf(profile: Profile, valueIndex: number): Map<string, number> {
  const out = new Map<string, number>();
  profile.sample.forEach((s, i) => {
    for (const name of names(profile, i)) out.set(name, (out.get(name) ?? 0) + Number(s.value[valueIndex]));
  });
  return out;
}

function goAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).status === 0;
}

describe('CPU profile', () => {
  it('is gzipped pprof that pprof-format decodes and `go tool pprof -top` reads, with hotLoop on top', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } }, (req, res) => {
      if (req.url === '/burn') res.end(String(hotLoop(100)));
      else res.end('app');
    });
    open.push(s);
    const profile = fetch(`${s.diag}/debug/pprof/profile?seconds=2`, { headers: AUTH });
    for (let i = 0; i < 12; i++) await (await fetch(`${s.app}/burn`)).text();
    const res = await profile;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="periscope-\d+-\d+\.cpu\.pb\.gz"$/);
    const gz = Buffer.from(await res.arrayBuffer());
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const decoded = Profile.decode(gunzipSync(gz));
    const strings = decoded.stringTable.strings;
    expect(decoded.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`)).toEqual(['samples/count', 'cpu/nanoseconds']);
    expect(Number(decoded.period)).toBe(1_000_000);
    const cpu = byLeaf(decoded, 1);
    // hotLoop ran about 1.2 s of the 2 s: it must weigh at least half a second of CPU.
    expect(cpu.get('hotLoop')).toBeGreaterThan(500_000_000);

    const file = join(dir, 'cpu.pb.gz');
    writeFileSync(file, gz);
    if (!goAvailable()) {
      if (process.env.CI === 'true') throw new Error('go is not installed (apt-get install golang-go; .ci/run does)');
      return;
    }
    const top = execFileSync('go', ['tool', 'pprof', '-top', file], { encoding: 'utf8', env: { ...process.env, HOME: dir, GOCACHE: join(dir, 'gocache') }, stdio: ['ignore', 'pipe', 'pipe'] });
    const rows = top.split('\n').filter((l) => /^\s+[\d.]+m?s\s/.test(l));
    expect(rows.slice(0, 5).some((l) => l.trim().endsWith(' hotLoop'))).toBe(true);
  });

  it('is the V8 .cpuprofile DevTools opens with ?format=cpuprofile', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    open.push(s);
    const res = await fetch(`${s.diag}/debug/pprof/profile?seconds=1&format=cpuprofile`, { headers: AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/\.cpuprofile"$/);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['endTime', 'nodes', 'samples', 'startTime', 'timeDeltas']);
    expect((body.nodes as { callFrame: { functionName: string } }[])[0]!.callFrame.functionName).toBe('(root)');
  });
});

describe('heap profile', () => {
  it('shows the allocation site the test made on purpose', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } }, (req, res) => {
      if (req.url === '/alloc') allocateOnPurpose(20_000);
      res.end('ok');
    });
    open.push(s);
    const profile = fetch(`${s.diag}/debug/pprof/heap?seconds=1`, { headers: AUTH });
    for (let i = 0; i < 5; i++) await (await fetch(`${s.app}/alloc`)).text();
    const res = await profile;
    expect(res.status).toBe(200);
    const decoded = Profile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
    const strings = decoded.stringTable.strings;
    expect(decoded.sampleType.map((t) => `${strings[Number(t.type)]}/${strings[Number(t.unit)]}`)).toEqual(['objects/count', 'space/bytes']);
    const space = byLeaf(decoded, 1);
    // 100,000 objects of an array of 64 numbers each: well over a megabyte kept.
    expect(space.get('allocateOnPurpose')).toBeGreaterThan(1_000_000);
    kept.length = 0;
  });
});

describe('heap snapshot', () => {
  it('is streamed with its size; valid JSON with snapshot, nodes and strings', async () => {
    const s = await start({ diagnostics: { auth: { bearerToken: TOKEN }, stallMs: false } });
    open.push(s);
    const res = await fetch(`${s.diag}/debug/heapsnapshot`, { headers: AUTH });
    expect(res.status).toBe(200);
    const size = Number(res.headers.get('content-length'));
    expect(size).toBeGreaterThan(1_000_000);
    // RSS once the snapshot is written (the headers are sent then) and at its peak while it streams.
    const before = process.memoryUsage.rss();
    let peak = before;
    const file = join(dir, 'snap.heapsnapshot');
    const body = Readable.fromWeb(res.body as never);
    body.on('data', () => {
      peak = Math.max(peak, process.memoryUsage.rss());
    });
    await pipeline(body, createWriteStream(file));
    expect(statSync(file).size).toBe(size);
    const growth = peak - before;
    console.log(`heap snapshot: ${(size / 1e6).toFixed(1)} MB streamed; RSS grew ${(growth / 1e6).toFixed(1)} MB while streaming`);
    expect(growth).toBeLessThan(size / 2);
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(parsed).toHaveProperty('snapshot');
    expect(Array.isArray(parsed.nodes)).toBe(true);
    expect(Array.isArray(parsed.strings)).toBe(true);
  });
});
