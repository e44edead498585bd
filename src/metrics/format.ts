/** Text-format helpers shared by the exposition writer and periscope's own metrics. */

export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

export function escapeHelp(help: string, openMetrics: boolean): string {
  let out = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (openMetrics) out = out.replace(/"/g, '\\"');
  return out;
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** `name="value",...` for a label object, values escaped; `undefined` values are skipped. */
export function formatLabelPairs(labels: Record<string, unknown>): string {
  let out = '';
  for (const name in labels) {
    const v = labels[name];
    if (v === undefined) continue;
    if (out !== '') out += ',';
    out += `${name}="${escapeLabelValue(typeof v === 'number' ? formatValue(v) : String(v))}"`;
  }
  return out;
}

/** The `# HELP` and `# TYPE` lines of a metric family. */
export function familyHeader(name: string, help: string, type: string, openMetrics: boolean): string {
  return `# HELP ${name} ${escapeHelp(help, openMetrics)}\n# TYPE ${name} ${type}\n`;
}
