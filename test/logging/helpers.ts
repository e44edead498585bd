import type { LogStream } from '../../src/options.js';

/** A destination that keeps every line, parsed, and the raw text. */
export class Capture implements LogStream {
  readonly raw: string[] = [];
  write(line: string): void {
    this.raw.push(line);
  }
  get lines(): Record<string, unknown>[] {
    return this.raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  /** Lines whose msg equals `msg`. */
  withMsg(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg);
  }
}

/** Waits until `res` has closed on the server side: the request line is written on `close`. */
export async function settle(): Promise<void> {
  // The request line is written from the response's 'close' event, which Node emits in a
  // nextTick after 'finish'; the client may see the body first. Two macrotask turns cover it.
  await new Promise<void>((r) => setImmediate(r));
  await new Promise<void>((r) => setImmediate(r));
}
