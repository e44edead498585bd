// Starting and stopping benchmark processes, pinned to CPUs, with bounded waits.
import { execFileSync, fork, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTails, parseWrk } from './stats.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVERS = join(ROOT, 'bench', 'servers');

function has(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Where servers and the load generator run: CPU 0 and CPU 1 when there are two and taskset exists. */
export const PINNING = cpus().length >= 2 && has('taskset') ? { server: '0', load: '1' } : null;
export const HAS_WRK = has('wrk');

/**
 * Starts `bench/servers/NAME.mjs` with `args`, pinned to `cpu`, stdout to /dev/null (so
 * every variant logs to the same place), and waits for its `{ port }` or `{ unavailable }`
 * message. Resolves `{ child, pid, port }` or `{ unavailable }`.
 */
export function startServer(name, args, { cpu = PINNING?.server, timeoutMs = 20_000, stdout = '/dev/null', nodeArgs = [] } = {}) {
  const script = join(SERVERS, `${name}.mjs`);
  const out = openSync(stdout, 'a');
  const options = { cwd: ROOT, stdio: ['ignore', out, 'pipe', 'ipc'], execArgv: nodeArgs };
  // Through taskset, so every thread the process starts (libuv pool, V8 helpers) is pinned.
  const child =
    cpu === undefined
      ? fork(script, args, options)
      : fork(script, args, { ...options, execPath: 'taskset', execArgv: ['-c', cpu, process.execPath, ...nodeArgs] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} ${args.join(' ')} did not start within ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      if (m.unavailable) resolve({ unavailable: m.unavailable });
      else resolve({ child, pid: child.pid, port: m.port, stderr: () => stderr });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
}

/** Stops a started process: SIGTERM, then SIGKILL after `graceMs`. */
export function stop(server, graceMs = 3000) {
  const child = server?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * CPU time (user + system) a process has used, in microseconds, from /proc; NaN when it
 * cannot be read. Per request, it measures overhead in a way a busy machine disturbs much
 * less than requests/s: other processes take wall-clock time from a server, not CPU time
 * it spends.
 */
export function cpuMicros(pid) {
  try {
    return statCpuMicros(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** User plus system CPU time in microseconds from the text of a `/proc/<pid>/stat` file. */
export function statCpuMicros(stat) {
  // The command name may hold spaces and parentheses: the fields start after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime, in clock ticks of 1/100 s (USER_HZ on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

/** Resident set size of a process, in MB, from /proc (0 when it cannot be read). */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * The server's memory after a full garbage collection (when it was started with
 * `--expose-gc`), in MB: `{ rss_mb, heap_mb, heap_total_mb, external_mb }`.
 */
export function memory(server, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no memory report')), timeoutMs);
    const onMessage = (m) => {
      if (!m.memory) return;
      clearTimeout(timer);
      server.child.off('message', onMessage);
      const mb = (n) => +(n / 2 ** 20).toFixed(1);
      resolve({ rss_mb: mb(m.memory.rss), heap_mb: mb(m.memory.heapUsed), heap_total_mb: mb(m.memory.heapTotal), external_mb: mb(m.memory.external) });
    };
    server.child.on('message', onMessage);
    server.child.send('memory');
  });
}

/**
 * Sends `message` to a started server over IPC and resolves the `key` field of its first
 * reply that has one; rejects after `timeoutMs`.
 */
export function ask(server, message, key, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.child.off('message', onMessage);
      reject(new Error(`no ${key} answer to ${message}`));
    }, timeoutMs);
    const onMessage = (m) => {
      if (m?.[key] === undefined) return;
      clearTimeout(timer);
      server.child.off('message', onMessage);
      resolve(m[key]);
    };
    server.child.on('message', onMessage);
    server.child.send(message);
  });
}

/** Starts a measurement window in a server started with `--loop-stats` (bench/servers/loop-stats.mjs). */
export function resetLoopStats(server) {
  return ask(server, 'loop-reset', 'loopReset');
}

/** Ends it: the event-loop delay histogram and GC pauses since the reset, in ms. */
export function loopStats(server) {
  return ask(server, 'loop-stats', 'loopStats');
}

/** Runs `command args`, killing it after `timeoutMs`; resolves its stdout. */
export function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}): ${err || out}`));
    });
  });
}

/**
 * Puts load on `url` for `seconds` from the load CPU: wrk when installed, else the Node
 * fallback. Bounded: killed 15 s after it should have ended.
 */
export async function load(url, seconds, connections) {
  const pin = PINNING ? ['taskset', '-c', PINNING.load] : [];
  if (!HAS_WRK) return loadCount(url, connections, { seconds });
  const out = await run(pin[0] ?? 'wrk', [...pin.slice(1), ...(pin.length ? ['wrk'] : []), '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], (seconds + 15) * 1000);
  return parseWrk(out);
}

/**
 * wrk from the load CPU with `--latency` and bench/lib/percentiles.lua, for the tails: the
 * parseWrk() fields plus p90, p99.9, p99.99, max and mean (ms). Needs wrk. Bounded: killed
 * 20 s after it should have ended.
 */
export async function loadTails(url, seconds, connections) {
  if (!HAS_WRK) throw new Error('wrk is not installed: the tail scenarios need it (apt-get install wrk)');
  const pin = PINNING ? ['taskset', '-c', PINNING.load] : [];
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(ROOT, 'bench', 'lib', 'percentiles.lua'), '--latency', url];
  const out = await run(pin[0] ?? 'wrk', [...pin.slice(1), ...(pin.length ? ['wrk'] : []), ...args], (seconds + 20) * 1000);
  return parseTails(out);
}

/**
 * The Node load generator (`bench/lib/load.mjs`) from the load CPU: for `seconds`, or for
 * exactly `count` requests; `randomPaths` appends a random lowercase word to `url` per request,
 * `numberedPaths` the request's index.
 * Bounded by `timeoutMs`.
 */
export async function loadCount(url, connections, { seconds, count, randomPaths = false, numberedPaths = false, timeoutMs = 120_000 } = {}) {
  const pin = PINNING ? ['taskset', '-c', PINNING.load] : [];
  const args = [join(ROOT, 'bench', 'lib', 'load.mjs'), url, String(connections), String(seconds ?? 0)];
  if (count !== undefined) args.push('--count', String(count));
  if (randomPaths) args.push('--random-paths');
  if (numberedPaths) args.push('--numbered-paths');
  const [command, ...rest] = [...pin, process.execPath, ...args];
  const out = await run(command, rest, seconds !== undefined ? (seconds + 15) * 1000 : timeoutMs);
  return JSON.parse(out.trim().split('\n').pop());
}

/**
 * Starts one server per framework and variant (`args` after the variant), into `servers` as
 * `{ framework, variant, ...server, url, runs: [] }`, or, where a variant cannot run here, into
 * `skipped`. The caller owns both lists, so it can stop what started if a later start throws.
 */
export async function startVariants(frameworks, variants, args, servers, skipped, log) {
  for (const framework of frameworks) {
    for (const variant of variants) {
      const s = await startServer(framework, [variant, ...args]);
      if (s.unavailable) {
        log(`${framework} ${variant}: not available: ${s.unavailable}`);
        skipped.push({ framework, variant, reason: s.unavailable });
        continue;
      }
      servers.push({ framework, variant, ...s, url: `http://127.0.0.1:${s.port}/hello/world`, runs: [] });
    }
  }
}

/**
 * A warm-up of `opts.warmup` s per server with `warm(url, seconds, connections)`, then
 * `opts.reps` repetitions interleaved across each framework's servers and rotated each
 * repetition, so no variant always runs first or last. `measure(server, rep)` resolves the
 * repetition's run, kept as `server.runs[rep]`.
 */
export async function warmAndRotate(servers, opts, warm, measure, log) {
  if (opts.warmup > 0) {
    log(`warm-up: ${opts.warmup} s per server`);
    for (const s of servers) await warm(s.url, opts.warmup, opts.connections);
  }
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const framework of opts.frameworks) {
      const group = servers.filter((s) => s.framework === framework);
      for (let k = 0; k < group.length; k++) {
        const s = group[(k + rep) % group.length];
        s.runs[rep] = await measure(s, rep);
      }
    }
  }
}
