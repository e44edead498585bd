// Starting and stopping benchmark processes, pinned to CPUs, with bounded waits.
import { execFileSync, fork, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
export function startServer(name, args, { cpu = PINNING?.server, timeoutMs = 20_000, stdout = '/dev/null' } = {}) {
  const script = join(SERVERS, `${name}.mjs`);
  const out = openSync(stdout, 'a');
  const options = { cwd: ROOT, stdio: ['ignore', out, 'pipe', 'ipc'] };
  // Through taskset, so every thread the process starts (libuv pool, V8 helpers) is pinned.
  const child =
    cpu === undefined
      ? fork(script, args, options)
      : fork(script, args, { ...options, execPath: 'taskset', execArgv: ['-c', cpu, process.execPath] });
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

/** Resident set size of a process, in MB, from /proc (0 when it cannot be read). */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
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
  const [command, ...args] = HAS_WRK
    ? [...pin, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url]
    : [...pin, process.execPath, join(ROOT, 'bench', 'lib', 'load.mjs'), url, String(connections), String(seconds)];
  const out = await run(command, args, (seconds + 15) * 1000);
  if (HAS_WRK) {
    const { parseWrk } = await import('./stats.mjs');
    return parseWrk(out);
  }
  return JSON.parse(out.trim().split('\n').pop());
}
