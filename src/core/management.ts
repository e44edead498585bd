import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Endpoints } from './endpoints.js';
import type { Report } from './reporter.js';

interface Port {
  readonly endpoints: Endpoints;
  readonly host: string | undefined;
  server?: Server;
  listening?: Promise<AddressInfo | undefined>;
}

/**
 * periscope's management servers: one per distinct port, shared by every concern that asked
 * for that port (metrics and health on the same port share one server; the options made sure
 * they name the same host). Each is unref'd, so it never keeps a finished process alive.
 */
export class ManagementServers {
  readonly #ports = new Map<number, Port>();
  /** Concern name -> its port. */
  readonly #owners = new Map<string, Port>();
  readonly #report: Report;

  constructor(report: Report) {
    this.#report = report;
  }

  /** The endpoints of `port`, for `owner` (a concern's name). */
  endpointsFor(port: number, host: string | undefined, owner: string): Endpoints {
    let p = this.#ports.get(port);
    if (p === undefined) {
      p = { endpoints: new Endpoints(this.#report, 'management-endpoint'), host };
      this.#ports.set(port, p);
    }
    if (!this.#owners.has(owner)) this.#owners.set(owner, p);
    return p.endpoints;
  }

  /** Creates and starts every server. */
  listen(): void {
    for (const [port, p] of this.#ports) {
      const server = p.endpoints.createServer();
      p.server = server;
      p.listening = new Promise<AddressInfo | undefined>((resolve, reject) => {
        server.once('listening', () => resolve(server.address() as AddressInfo));
        server.once('error', (error) => {
          this.#report(error, 'management-listen');
          reject(error);
        });
      });
      p.listening.catch(() => {});
      server.listen(port, p.host);
      server.unref();
    }
  }

  /** The server of `owner`, else of the first concern that has one. */
  server(owner?: string): Server | undefined {
    return this.#portOf(owner)?.server;
  }

  /** Resolves with the address of `owner`'s server once it listens; undefined when it has none. */
  address(owner?: string): Promise<AddressInfo | undefined> {
    return this.#portOf(owner)?.listening ?? Promise.resolve(undefined);
  }

  #portOf(owner: string | undefined): Port | undefined {
    return owner === undefined ? this.#owners.values().next().value : this.#owners.get(owner);
  }

  close(): Promise<void> {
    return Promise.all(
      [...this.#ports.values()].map(
        (p) =>
          new Promise<void>((resolve) => {
            const server = p.server;
            if (server === undefined || !server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    ).then(() => {});
  }
}
