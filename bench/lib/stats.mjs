// Pure helpers for the runner: wrk output parsing and the paired-ratio statistics.

/** Median of a non-empty list of numbers (mean of the middle two for an even count). */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The paired ratio: for each repetition, `a[i] / b[i]` (both measured in the same
 * repetition, so drift of the machine between repetitions cancels), then the median.
 * Repetitions where either side is missing or zero are left out.
 */
export function pairedRatio(a, b) {
  return pairedRatioRange(a, b)?.median ?? null;
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `"1.23ms"` -> 1.23, `"850.00us"` -> 0.85. */
export function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/**
 * Reads `wrk --latency` output: requests/s, the 50th and 99th latency percentiles, the
 * request count and the errors (socket errors plus non-2xx/3xx responses).
 */
export function parseWrk(text) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p50 = /^\s+50%\s+(\S+)/m.exec(text);
  const p99 = /^\s+99%\s+(\S+)/m.exec(text);
  const total = /(\d+) requests in/.exec(text);
  if (!rps || !p50 || !p99 || !total) throw new Error(`unexpected wrk output:\n${text}`);
  let errors = 0;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  if (socket) errors += Number(socket[1]) + Number(socket[2]) + Number(socket[3]) + Number(socket[4]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  if (non2xx) errors += Number(non2xx[1]);
  return { rps: Number(rps[1]), p50_ms: toMs(p50[1]), p99_ms: toMs(p99[1]), requests: Number(total[1]), errors };
}

/**
 * The paired ratios' median with their spread: `{ median, min, max, n }` over the repetitions
 * where both sides are non-zero (see {@link pairedRatio}), or null when there is none.
 */
export function pairedRatioRange(a, b) {
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] > 0 && b[i] > 0) ratios.push(a[i] / b[i]);
  }
  if (ratios.length === 0) return null;
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), n: ratios.length };
}

/**
 * Reads wrk output run with `-s bench/lib/percentiles.lua --latency`: parseWrk()'s fields plus
 * p90, p99.9, p99.99, max and mean latency in ms, from the script's `TAILS` line.
 */
export function parseTails(text) {
  const base = parseWrk(text);
  const line = /^TAILS (.*)$/m.exec(text);
  if (!line) throw new Error(`no TAILS line in wrk output (run with -s bench/lib/percentiles.lua):\n${text}`);
  const us = Object.fromEntries(line[1].split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  const ms = (k) => us[k] / 1000;
  return { ...base, p90_ms: ms('p90'), p999_ms: ms('p99.9'), p9999_ms: ms('p99.99'), max_ms: ms('max'), mean_ms: ms('mean') };
}
