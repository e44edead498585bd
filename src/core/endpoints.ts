import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Report } from './reporter.js';

/** Serves one operational endpoint (`/metrics`, probes). May throw or reject: {@link Endpoints.run} answers 500. */
export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** The candidates of a second character no path has. */
const NO_PATHS: number[] = [];

/** The slot of {@link Endpoints}' table a path or URL falls in: its second character's code, or 128. */
function secondSlot(path: string): number {
  const c = path.length > 1 ? path.charCodeAt(1) : 128;
  return c < 128 ? c : 128;
}

/**
 * periscope's own endpoints, matched on the path (query ignored); a path ending in `/*`
 * matches everything below it (`/readyz/*` serves `/readyz/postgres`). The one way they are
 * served, whether in-band by an adapter (node:http, Express, Fastify's request hook) or by a
 * management server of their own: through {@link Endpoints.run}, which turns a handler's
 * synchronous throw or rejection into a 500 and a report.
 */
export class Endpoints {
  readonly #paths: string[] = [];
  readonly #handlers: EndpointHandler[] = [];
  /** For each path: true when it is a `/*` prefix, stored without the `*`. */
  readonly #prefix: boolean[] = [];
  /**
   * For each character code below 128, the indices of the paths whose second character it is
   * (the one after the leading `/`); the last slot for any other (or no) second character;
   * paths of one character are in every slot. A request URL is compared only with the paths
   * its own second character selects: almost every app URL selects none, and is turned away
   * with one array read.
   */
  readonly #bySecond: number[][] = Array.from({ length: 129 }, () => NO_PATHS);
  readonly #declared: string[] = [];
  readonly #report: Report;
  /** The `where` of reported failures: `endpoint` on the app, `management-endpoint` on a management server. */
  readonly #where: string;

  constructor(report: Report, where = 'endpoint') {
    this.#report = report;
    this.#where = where;
  }

  add(path: string, handler: EndpointHandler): void {
    const prefix = path.endsWith('/*');
    this.#declared.push(path);
    this.#paths.push(prefix ? path.slice(0, -1) : path);
    this.#prefix.push(prefix);
    this.#handlers.push(handler);
    const index = this.#paths.length - 1;
    const stored = this.#paths[index]!;
    const slot = secondSlot(stored);
    for (let c = 0; c <= 128; c++) {
      if (stored.length < 2 || c === slot) this.#bySecond[c] = [...this.#bySecond[c]!, index];
    }
  }

  get size(): number {
    return this.#paths.length;
  }

  entries(): [string, EndpointHandler][] {
    return this.#declared.map((p, i) => [p, this.#handlers[i]!]);
  }

  /** The handler for a request URL, or undefined. Allocates nothing. */
  match(url: string | undefined): EndpointHandler | undefined {
    if (url === undefined) return undefined;
    // Measured: comparing every path, even rejecting on the second character first, was about 450
    // instructions a request with the six default paths; the table read is a few.
    const candidates = this.#bySecond[secondSlot(url)]!;
    for (let k = 0; k < candidates.length; k++) {
      const i = candidates[k]!;
      const p = this.#paths[i]!;
      if (!url.startsWith(p)) continue;
      if (this.#prefix[i] === true ? url.length > p.length && url.charCodeAt(p.length) !== 63 : url.length === p.length || url.charCodeAt(p.length) === 63 /* ? */) {
        return this.#handlers[i];
      }
    }
    return undefined;
  }

  /** Serves the request when it is for one of these endpoints and says so; false leaves it to the app. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const handler = this.match(req.url);
    if (handler === undefined) return false;
    this.run(handler, req, res);
    return true;
  }

  /** Runs `handler`; a synchronous throw or a rejection is reported and answered with 500. Never throws. */
  run(handler: EndpointHandler, req: IncomingMessage, res: ServerResponse): void {
    const fail = (error: unknown): void => {
      this.#report(error, this.#where);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Internal Server Error\n');
      else res.destroy();
    };
    let result: void | Promise<void>;
    try {
      result = handler(req, res);
    } catch (error) {
      fail(error);
      return;
    }
    if (result !== undefined) result.then(undefined, fail);
  }

  /** A bare node:http server that serves only these endpoints (404 for anything else). */
  createServer(): Server {
    return createServer((req, res) => {
      if (!this.serve(req, res)) res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
    });
  }
}
