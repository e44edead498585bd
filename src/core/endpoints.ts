import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Serves one operational endpoint (`/metrics`, probes). Must not throw; may be async. */
export type EndpointHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * periscope's own endpoints, matched on the path (query ignored); a path ending in `/*`
 * matches everything below it (`/readyz/*` serves `/readyz/postgres`). Served in-band by the
 * node:http and Express adapters, as routes by the Fastify adapter, or by a management
 * server of their own.
 */
export class Endpoints {
  readonly #paths: string[] = [];
  readonly #handlers: EndpointHandler[] = [];
  /** For each path: true when it is a `/*` prefix, stored without the `*`. */
  readonly #prefix: boolean[] = [];
  readonly #declared: string[] = [];

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

  /** A bare node:http server that serves only these endpoints (404 for anything else). */
  createServer(report: (error: unknown, where: string) => void): Server {
    return createServer((req, res) => {
      const handler = this.match(req.url);
      if (handler === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n');
        return;
      }
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((error: unknown) => {
          report(error, 'management-endpoint');
          if (!res.headersSent) res.writeHead(500).end();
        });
    });
  }
}
