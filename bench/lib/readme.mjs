// Replaces one generated section of bench/README.md, between
// `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`, leaving the prose around it alone.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuLine } from './quiet.mjs';

export const README = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');

export function replaceSection(name, body, file = README) {
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} has no ${start} ... ${end} section`);
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${body.trimEnd()}\n${text.slice(b)}`);
}

/** A Markdown table from a header row and rows of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * The machine facts every result file carries and {@link machineLine} renders; taken at the
 * start of a run, so the load average says how busy the machine was when it began.
 */
export function machineMeta() {
  return { node: process.version, date: new Date().toISOString(), cpus: cpus().length, loadavg: +loadavg()[0].toFixed(1), cpu_model: cpus()[0]?.model ?? 'unknown' };
}

/** Writes a scenario's result file and rewrites its section of the README from it. */
export function publish(name, file, result, render) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  replaceSection(name, render(result));
}

/** `--render`: rewrites a scenario's README section from its last result file, measuring nothing. */
export function rerender(name, file, render) {
  replaceSection(name, render(JSON.parse(readFileSync(file, 'utf8'))));
}

export function machineLine(result) {
  // The machine is shared: its 1-minute load average at the start says how quiet it was.
  const load = result.loadavg === undefined ? '' : `, 1-minute load average ${result.loadavg} at the start`;
  return `Measured ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${result.cpus} x ${result.cpu_model}, Node ${result.node}${load}.`;
}

/** The sentence on other processes' CPU use during a result's measurement (with a leading space), if measured. */
export function cpuSentence(result) {
  return result.cpu_window ? ` ${cpuLine(result.cpu_window, result.cpus)}` : '';
}

/**
 * The opening paragraph of a scenario's README section, from a result with {@link machineMeta}
 * and `loadMeta` (bench/lib/quiet.mjs) fields: the machine, `how` it was measured, and `loads`,
 * by default the load average at the start and the end, whether targets were judged and the
 * others' CPU use.
 */
export function resultHeader(result, how, loads = loadSentences(result)) {
  return `${machineLine({ ...result, loadavg: undefined })} ${how} ${loads}`;
}

function loadSentences(result) {
  const load = `1-minute load average ${result.loadavg_start} at the start and ${result.loadavg_end} at the end${result.settle_s > 0 ? ` (read after waiting up to ${result.settle_s} s for it to fall to 1.0; ${result.loadavg_end_immediate} right after the last run)` : ''}.`;
  return `${load} ${result.verdict.judged ? 'Targets judged.' : `Targets not judged: ${result.verdict.reason}.`}${cpuSentence(result)}`;
}
