import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { instrument } from '../../src/index.js';
import type { Periscope, PeriscopeOptions } from '../../src/index.js';
import { listen } from '../helpers.js';
import { Capture } from '../logging/helpers.js';

export const TOKEN = 'diag-s3cr3t-token';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface Started {
  /** The app's base URL. */
  app: string;
  /** Where the diagnostics endpoints are served (the app, or the management port). */
  diag: string;
  obs: Periscope;
  logs: Capture;
  close(): Promise<void>;
}

/** A node:http app instrumented with `options` (logs captured), listening on loopback port 0. */
export async function start(
  options: PeriscopeOptions,
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('app'),
): Promise<Started> {
  const logs = new Capture();
  const server = createServer(handler);
  const obs = instrument(server, { shutdown: false, logging: { destination: logs, sync: true }, routes: ['/', '/burn', '/block', '/alloc'], ...options });
  const app = await listen(server);
  const address = await obs.managementAddress('diagnostics');
  const diag = address === undefined ? app : `http://127.0.0.1:${address.port}`;
  return {
    app,
    diag,
    obs,
    logs,
    close: async () => {
      await obs.shutdown();
      server.closeAllConnections();
      server.close();
    },
  };
}
