import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { Receiver } from '../tracing/helpers.js';
import type { AddressInfo } from 'node:net';

export const PG = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' } as const;
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A TCP port nobody listens on right now (for a private redis-server). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Log lines written to a stream destination, parsed. */
export function lineSink(): { lines: Record<string, unknown>[]; raw: string[]; destination: { write(line: string): void } } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    destination: {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  };
}

/** A real OTLP trace receiver for the file: started before its tests, closed after them. */
export function traceReceiver(): { readonly receiver: Receiver; readonly endpoint: string } {
  const state = { receiver: undefined as unknown as Receiver, endpoint: '' };
  beforeAll(async () => {
    state.receiver = new Receiver();
    state.endpoint = `${await state.receiver.start()}/v1/traces`;
  });
  afterAll(() => state.receiver.close());
  return state;
}
