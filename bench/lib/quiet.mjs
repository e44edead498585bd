// Whether the machine was quiet enough for a run's numbers to be judged against targets: the
// 1-minute load average (os.loadavg()) at the start and at the end of the measurement.
// On this shared 2-core VM other jobs take wall-clock time from the servers and move
// requests/s and tail latencies by far more than the differences the targets are about.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** Above this 1-minute load average at the start or the end, no target is judged met or missed. */
export const QUIET_LOAD = 1.0;

/** The 1-minute load average now, to two decimals. */
export function loadAverage() {
  return +loadavg()[0].toFixed(2);
}

/**
 * The load average after waiting up to `settleSeconds` (polling every 5 s, the kernel's own
 * update interval) for it to fall to QUIET_LOAD or below. A benchmark keeps both CPUs busy
 * itself (server and load generator), so right after it the 1-minute average reads about 2
 * however quiet the machine is; it decays with a 1-minute time constant once they stop. The
 * reading only ever over-states other processes' load, never hides it. Resolves
 * `{ load, immediate, waited_s }`: `immediate` is the reading before any wait.
 */
export async function settledLoad(settleSeconds, log = () => {}) {
  const immediate = loadAverage();
  const started = Date.now();
  let load = immediate;
  if (load > QUIET_LOAD && settleSeconds > 0) log(`load average ${load}: waiting up to ${settleSeconds} s for it to fall to ${QUIET_LOAD.toFixed(1)}`);
  while (load > QUIET_LOAD && Date.now() - started < settleSeconds * 1000) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, settleSeconds * 1000 - (Date.now() - started))));
    load = loadAverage();
  }
  return { load, immediate, waited_s: Math.round((Date.now() - started) / 1000) };
}

/**
 * Above this many CPUs taken by the hypervisor (steal, averaged over the measurement), no target
 * is judged either: the load average does not count steal, and a run on 2 CPUs losing a quarter
 * of one to other tenants showed bare Fastify's p99.9 move 6x between two repetitions.
 */
export const QUIET_STEAL = 0.05;

/**
 * The rule every scenario with targets follows: targets are judged only when the 1-minute
 * load average was at most QUIET_LOAD at both the start and the end, and the hypervisor took
 * at most QUIET_STEAL CPUs meanwhile (`steal`, from a {@link cpuWindow}; unknown counts as
 * none). Returns `{ judged, reason }`; `reason` says why not (null when judged).
 */
export function judge(start, end, limit = QUIET_LOAD, steal = 0) {
  const high = [];
  if (!(start <= limit)) high.push(`${start} at the start`);
  if (!(end <= limit)) high.push(`${end} at the end`);
  if (high.length > 0) {
    return {
      judged: false,
      reason: `1-minute load average ${high.join(' and ')} (above ${limit.toFixed(1)}): other processes shared the CPUs, so the figures are reported but no target is judged met or missed`,
    };
  }
  if (steal > QUIET_STEAL) {
    return {
      judged: false,
      reason: `the hypervisor took ${steal} of the CPUs (steal, above ${QUIET_STEAL}): other tenants of the host shared them, so the figures are reported but no target is judged met or missed`,
    };
  }
  return { judged: true, reason: null };
}

/** `/proc/stat`'s first line: all CPUs' busy and stolen time, in clock ticks (1/100 s). */
export function parseProcStat(text) {
  const f = /^cpu\s+(.*)$/m.exec(text)[1].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [user, nice, system, , , irq, softirq, steal = 0] = f;
  return { busy: user + nice + system + irq + softirq, steal };
}

/** `/proc/<pid>/stat`: the process's own and its waited-for children's CPU time, in ticks. */
export function parseSelfStat(text) {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
}

/**
 * What the load average cannot say, because it counts the benchmark's own processes: how much
 * CPU *other* processes used while it ran. Starts a window; `end()` resolves
 * `{ seconds, others_cpus, own_cpus, steal_cpus }` in CPUs (2 = both CPUs all the time):
 * the machine's busy time from /proc/stat minus this process's and its children's (servers,
 * wrk, clients: counted once they have exited and been waited for, so call `end()` after they
 * stopped), and the time the hypervisor gave this VM's CPUs to others (steal). Null off Linux.
 */
export function cpuWindow() {
  const read = () => {
    try {
      return { machine: parseProcStat(readFileSync('/proc/stat', 'utf8')), own: parseSelfStat(readFileSync('/proc/self/stat', 'utf8')), at: performance.now() };
    } catch {
      return null;
    }
  };
  const start = read();
  return {
    end() {
      const now = read();
      if (start === null || now === null) return null;
      const seconds = (now.at - start.at) / 1000;
      const cpus = (ticks) => +(ticks / 100 / seconds).toFixed(2);
      const own = now.own - start.own;
      return {
        seconds: +seconds.toFixed(1),
        others_cpus: cpus(Math.max(0, now.machine.busy - start.machine.busy - own)),
        own_cpus: cpus(own),
        steal_cpus: cpus(now.machine.steal - start.machine.steal),
      };
    },
  };
}

/** The sentence the scenarios print and write about a {@link cpuWindow} result. */
export function cpuLine(w, cpus) {
  return `During the measurement (${w.seconds} s) other processes used ${w.others_cpus} of the ${cpus} CPUs on average, the benchmark's own processes ${w.own_cpus}, and the hypervisor took ${w.steal_cpus} (steal).`;
}

/**
 * A measurement's quiet-machine readings, as every scenario with targets takes them: waits for
 * and logs the start's load average ({@link settledLoad}) and opens a {@link cpuWindow}. `end()`,
 * called once the measured processes have stopped, logs the others' CPU use and waits for and
 * logs the end's load average, whose log line says it was read right after `after`. Resolves
 * `{ startLoad, end }`; `end()` resolves `{ startLoad, endLoad, cpu }`.
 */
export async function quietWindow(settleSeconds, log, after = 'the last run') {
  const startLoad = await settledLoad(settleSeconds, log);
  log(`1-minute load average at the start: ${startLoad.load}${startLoad.waited_s > 0 ? ` (${startLoad.immediate} before waiting ${startLoad.waited_s} s)` : ''}`);
  const window = cpuWindow();
  return {
    startLoad,
    async end() {
      const cpu = window.end();
      if (cpu) log(cpuLine(cpu, cpus().length));
      const endLoad = await settledLoad(settleSeconds, log);
      log(`1-minute load average at the end: ${endLoad.load}${endLoad.waited_s > 0 ? ` (${endLoad.immediate} right after ${after}, then ${endLoad.waited_s} s of waiting)` : ''}`);
      return { startLoad, endLoad, cpu };
    },
  };
}

/**
 * The load fields a result file carries from a {@link quietWindow}'s readings, its verdict
 * ({@link judge}) among them; `startImmediate` adds the start's reading before any wait.
 */
export function loadMeta({ startLoad, endLoad, cpu }, settleSeconds, { startImmediate = false } = {}) {
  return {
    loadavg: startLoad.load,
    loadavg_start: startLoad.load,
    loadavg_end: endLoad.load,
    ...(startImmediate ? { loadavg_start_immediate: startLoad.immediate } : {}),
    loadavg_end_immediate: endLoad.immediate,
    settle_s: settleSeconds,
    verdict: judge(startLoad.load, endLoad.load, QUIET_LOAD, cpu?.steal_cpus ?? 0),
    cpu_window: cpu,
  };
}
