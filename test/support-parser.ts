/**
 * A parser for the Prometheus text exposition format 0.0.4 (and the sample lines of
 * OpenMetrics 1.0), written to the format's specification, character by character.
 * The npm parsers tried fell short: parse-prometheus-text-format 1.1.1 drops the labels,
 * sum and count of histograms, and prom2javascript 0.2.0 rejects NaN and -Inf values,
 * which the format allows (the runtime metrics emit NaN before their first sample).
 * Every exposition the tests parse is also checked by Prometheus' own parser through
 * `promtool check metrics`.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp?: number };
}

export interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  samples: ParsedSample[];
}

function parseNumber(text: string, line: string): number {
  switch (text) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`bad number "${text}" in line: ${line}`);
  return n;
}

class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  peek(): string {
    return this.s[this.i] ?? '';
  }
  eof(): boolean {
    return this.i >= this.s.length;
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  name(): string {
    const start = this.i;
    while (/[a-zA-Z0-9_:]/.test(this.peek())) this.i++;
    if (start === this.i) throw new Error(`expected a name at ${this.i} in: ${this.s}`);
    return this.s.slice(start, this.i);
  }
  expect(ch: string): void {
    if (this.peek() !== ch) throw new Error(`expected "${ch}" at ${this.i} in: ${this.s}`);
    this.i++;
  }
  quoted(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const ch = this.peek();
      if (ch === '') throw new Error(`unterminated label value in: ${this.s}`);
      this.i++;
      if (ch === '"') return out;
      if (ch === '\\') {
        const next = this.peek();
        this.i++;
        if (next === 'n') out += '\n';
        else if (next === '\\' || next === '"') out += next;
        else throw new Error(`bad escape \\${next} in: ${this.s}`);
      } else out += ch;
    }
  }
  labels(): Record<string, string> {
    const labels: Record<string, string> = {};
    this.expect('{');
    this.skipSpaces();
    while (this.peek() !== '}') {
      const name = this.name();
      this.skipSpaces();
      this.expect('=');
      this.skipSpaces();
      if (name in labels) throw new Error(`duplicate label ${name} in: ${this.s}`);
      labels[name] = this.quoted();
      this.skipSpaces();
      if (this.peek() === ',') {
        this.i++;
        this.skipSpaces();
      } else if (this.peek() !== '}') throw new Error(`expected "," or "}" at ${this.i} in: ${this.s}`);
    }
    this.i++;
    return labels;
  }
  token(): string {
    const start = this.i;
    while (!this.eof() && this.peek() !== ' ' && this.peek() !== '\t') this.i++;
    return this.s.slice(start, this.i);
  }
}

function parseSample(line: string): ParsedSample {
  const c = new Cursor(line);
  const name = c.name();
  const labels = c.peek() === '{' ? c.labels() : {};
  c.skipSpaces();
  const value = parseNumber(c.token(), line);
  c.skipSpaces();
  const sample: ParsedSample = { name, labels, value };
  if (!c.eof() && c.peek() !== '#') {
    c.token(); // timestamp
    c.skipSpaces();
  }
  if (c.peek() === '#') {
    c.i++;
    c.skipSpaces();
    const exLabels = c.labels();
    c.skipSpaces();
    const exValue = parseNumber(c.token(), line);
    c.skipSpaces();
    const ts = c.token();
    sample.exemplar = { labels: exLabels, value: exValue, ...(ts !== '' ? { timestamp: parseNumber(ts, line) } : {}) };
  }
  c.skipSpaces();
  if (!c.eof()) throw new Error(`trailing text in: ${line}`);
  return sample;
}

const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created', '_info'];

/** Parses a whole exposition into families keyed by family name. */
export function parseText(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const family = (name: string) => {
    let f = families.get(name);
    if (f === undefined) {
      f = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE|UNIT|EOF)(?: (\S+)(?: (.*))?)?$/.exec(line);
      if (m === null) continue; // a plain comment
      if (m[1] === 'HELP') family(m[2]!).help = (m[3] ?? '').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      if (m[1] === 'TYPE') family(m[2]!).type = m[3] ?? 'untyped';
      continue;
    }
    const sample = parseSample(line);
    let owner = families.get(sample.name);
    if (owner === undefined) {
      const suffix = SUFFIXES.find((s) => sample.name.endsWith(s));
      const base = suffix === undefined ? undefined : sample.name.slice(0, -suffix.length);
      owner = base !== undefined && families.has(base) ? families.get(base)! : family(sample.name);
    }
    owner.samples.push(sample);
  }
  return families;
}
