import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Report } from './reporter.js';

/** Serves one operational endpoint (`/metrics`, probes). May throw or reject: {@link Endpoints.run} answers 500. */
export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

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
    const paths = this.#paths;
    const prefix = this.#prefix;
    // Comparing the character after the leading "/" first rejects almost every app URL
    // without a string comparison (measured: 6 paths cost ~4x one path without it).
    const second = url.charCodeAt(1);
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i]!;
      if ((p.length > 1 && p.charCodeAt(1) !== second) || !url.startsWith(p)) continue;
      if (prefix[i] === true ? url.length > p.length && url.charCodeAt(p.length) !== 63 : url.length === p.length || url.charCodeAt(p.length) === 63 /* ? */) {
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
