import type { ServerResponse } from 'node:http';

/** The typed events of the console's stream. */
export type ConsoleEventType = 'hello' | 'logs' | 'traces' | 'routes' | 'health' | 'stats' | 'resync';

export interface EventLimits {
  readonly replayEvents: number;
  readonly replayBytes: number;
  readonly clientQueueBytes: number;
  readonly maxClients: number;
}

interface Sent {
  readonly id: number;
  readonly text: string;
}

class Client {
  /** Messages the socket has not taken yet. */
  readonly queue: string[] = [];
  queuedBytes = 0;
  /** Set when the queue would pass its bound: what is queued is dropped and `resync` goes out once it drains. */
  overflowed = false;
  writable = true;
  constructor(readonly res: ServerResponse) {}
}

/**
 * One Server-Sent Events stream for every open page. Each event has an `id`; the last
 * `replayEvents` (at most `replayBytes`) are kept so a client reconnecting with
 * `Last-Event-ID` gets what it missed, or `resync` when that is gone. A client whose socket
 * does not take what is written gets a queue of at most `clientQueueBytes`; past it the queue
 * is dropped and, once the socket drains, the client gets one `resync` (it refetches the
 * state over the JSON endpoints) instead of the server's memory growing.
 */
export class EventHub {
  readonly #limits: EventLimits;
  readonly #clients = new Set<Client>();
  readonly #replay: Sent[] = [];
  #replayBytes = 0;
  #id = 0;
  /** Resyncs sent because a queue overflowed, or a `Last-Event-ID` was older than the replay ring. */
  resyncs = 0;
  /** Times a client's queue reached its bound and was dropped. */
  overflows = 0;
  /** The most bytes any client's queue held. */
  queueHighWater = 0;
  rejected = 0;

  constructor(limits: EventLimits) {
    this.#limits = limits;
  }

  get clients(): number {
    return this.#clients.size;
  }

  get lastId(): number {
    return this.#id;
  }

  /** Opens a stream on `res`; `lastEventId` replays what came after it. False when there are too many clients. */
  open(res: ServerResponse, lastEventId: string | undefined, hello: () => object, headers: Readonly<Record<string, string>> = {}): boolean {
    if (this.#clients.size >= this.#limits.maxClients) {
      this.rejected++;
      return false;
    }
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // Retry after a second when the stream breaks.
    res.write('retry: 1000\n\n');
    const client = new Client(res);
    this.#clients.add(client);
    res.on('drain', () => this.#drain(client));
    res.on('close', () => this.#clients.delete(client));
    const last = lastEventId === undefined || !/^\d{1,15}$/.test(lastEventId) ? undefined : Number(lastEventId);
    if (last === undefined) {
      this.#write(client, this.#format(this.#id, 'hello', hello()));
      return true;
    }
    const first = this.#replay[0];
    if (last > this.#id || (last < this.#id && (first === undefined || first.id > last + 1))) {
      this.resyncs++;
      this.#write(client, this.#format(this.#id, 'resync', { reason: 'replay_gone' }));
      return true;
    }
    for (const e of this.#replay) if (e.id > last) this.#write(client, e.text);
    return true;
  }

  #format(id: number, type: ConsoleEventType, data: unknown): string {
    return `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  }

  /** Sends one event to every client and keeps it for replay. */
  send(type: ConsoleEventType, data: unknown): void {
    const id = ++this.#id;
    const text = this.#format(id, type, data);
    this.#replay.push({ id, text });
    this.#replayBytes += text.length;
    while (this.#replay.length > this.#limits.replayEvents || (this.#replayBytes > this.#limits.replayBytes && this.#replay.length > 1)) {
      this.#replayBytes -= this.#replay.shift()!.text.length;
    }
    for (const c of this.#clients) this.#write(c, text);
  }

  /** A comment line: keeps proxies and the browser from timing the stream out. */
  heartbeat(): void {
    for (const c of this.#clients) if (c.writable && !c.overflowed && c.queue.length === 0) c.writable = c.res.write(': heartbeat\n\n');
  }

  #write(c: Client, text: string): void {
    if (c.overflowed) return;
    if (c.writable && c.queue.length === 0) {
      c.writable = c.res.write(text);
      return;
    }
    if (c.queuedBytes + text.length > this.#limits.clientQueueBytes) {
      // Bounded: forget what the client has not taken; it refetches the state on `resync`.
      c.overflowed = true;
      this.overflows++;
      c.queue.length = 0;
      c.queuedBytes = 0;
      return;
    }
    c.queue.push(text);
    c.queuedBytes += text.length;
    if (c.queuedBytes > this.queueHighWater) this.queueHighWater = c.queuedBytes;
  }

  #drain(c: Client): void {
    c.writable = true;
    if (c.overflowed) {
      c.overflowed = false;
      this.resyncs++;
      c.writable = c.res.write(this.#format(this.#id, 'resync', { reason: 'client_too_slow' }));
    }
    while (c.writable && c.queue.length > 0) {
      const text = c.queue.shift()!;
      c.queuedBytes -= text.length;
      c.writable = c.res.write(text);
    }
  }

  close(): void {
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
  }
}
