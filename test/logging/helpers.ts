import type { Server, ServerResponse } from 'node:http';
import type { LogStream } from '../../src/logging/options.js';

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

const trackers = new WeakMap<Server, { open: number; waiters: (() => void)[] }>();

/** Counts the server's responses that have not closed yet; call before the first request. */
export function track(server: Server): void {
  const t = { open: 0, waiters: [] as (() => void)[] };
  trackers.set(server, t);
  server.on('request', (_req, res: ServerResponse) => {
    t.open++;
    res.once('close', () => {
      // periscope writes the request line from its own 'close' listener; let every listener run.
      setImmediate(() => {
        if (--t.open === 0) for (const w of t.waiters.splice(0)) w();
      });
    });
  });
}

/**
 * Resolves once every response the server has started has closed, so every request line is
 * written: event-driven, no guessing at delays.
 */
export function settle(server: Server): Promise<void> {
  const t = trackers.get(server);
  if (t === undefined) throw new Error('settle(server) needs track(server) before the first request');
  return t.open === 0 ? Promise.resolve() : new Promise<void>((resolve) => t.waiters.push(resolve));
}
