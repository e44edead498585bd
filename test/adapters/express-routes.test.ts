import { once } from 'node:events';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Express, Request, Response } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { instrument } from '../../src/index.js';
import type { Periscope, PeriscopeOptions } from '../../src/index.js';
import { hammer, samples, scrape } from '../helpers.js';
import { Capture, settle, track } from '../logging/helpers.js';
import { fastExport, Receiver } from '../tracing/helpers.js';

let server: Server | undefined;
let obs: Periscope | undefined;
afterEach(async () => {
  if (server !== undefined) {
    server.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
  }
  await obs?.shutdown();
  server = undefined;
  obs = undefined;
});

/** Builds an app, instruments it (before its routes, unless `before` mounts some first), listens. */
async function start(build: (app: Express) => void, options: PeriscopeOptions = {}, before?: (app: Express) => void) {
  const app = express();
  before?.(app);
  obs = instrument(app, { logging: false, ...options });
  build(app);
  server = app.listen(0, '127.0.0.1');
  track(server);
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ok = (req: Request, res: Response) => {
  res.json(req.params);
};

/** Each way of mounting: how to build it, the URL of request i (a new parameter value each time), and the one label all of them must get. */
const MOUNTS: { kind: string; build: (app: Express) => void; url: (i: number) => string; label: string }[] = [
  {
    kind: 'router with a parameter in its mount path',
    build: (app) => {
      const users = express.Router();
      users.get('/users/:id', ok);
      app.use('/orgs/:org', users);
    },
    url: (i) => `/orgs/org-${i}/users/${i}`,
    label: '/orgs/:org/users/:id',
  },
  {
    kind: 'routers three deep',
    build: (app) => {
      const a = express.Router();
      const b = express.Router();
      const c = express.Router();
      c.get('/c/:cid', ok);
      b.use('/b/:bid', c);
      a.use('/a/:aid', b);
      app.use('/v/:version', a);
    },
    url: (i) => `/v/${i}/a/a${i}/b/b${i}/c/c${i}`,
    label: '/v/:version/a/:aid/b/:bid/c/:cid',
  },
  {
    kind: 'sub-app',
    build: (app) => {
      const tenant = express();
      tenant.get('/items/:id', ok);
      app.use('/tenants/:tenant', tenant);
    },
    url: (i) => `/tenants/t${i}/items/${i}`,
    label: '/tenants/:tenant/items/:id',
  },
  {
    kind: 'sub-app inside a sub-app',
    build: (app) => {
      const tenant = express();
      const project = express();
      project.get('/tasks/:id', ok);
      tenant.use('/projects/:project', project);
      app.use('/tenants/:tenant', tenant);
    },
    url: (i) => `/tenants/t${i}/projects/p${i}/tasks/${i}`,
    label: '/tenants/:tenant/projects/:project/tasks/:id',
  },
  {
    kind: 'sub-app mounted on a router',
    build: (app) => {
      const shop = express.Router();
      const cart = express();
      cart.get('/lines/:line', ok);
      shop.use('/carts/:cart', cart);
      app.use('/shops/:shop', shop);
    },
    url: (i) => `/shops/s${i}/carts/c${i}/lines/${i}`,
    label: '/shops/:shop/carts/:cart/lines/:line',
  },
  {
    kind: 'array of paths (the second, with a parameter)',
    build: (app) => {
      const things = express.Router();
      things.get('/things/:id', ok);
      app.use(['/plain', '/by/:owner'], things);
    },
    url: (i) => `/by/o${i}/things/${i}`,
    label: '/by/:owner/things/:id',
  },
  {
    kind: 'RegExp mount',
    build: (app) => {
      const reports = express.Router();
      reports.get('/reports/:id', ok);
      app.use(/^\/years\/(\d{4})/, reports);
    },
    url: (i) => `/years/${1900 + i}/reports/${i}`,
    label: String(/^\/years\/(\d{4})/) + '/reports/:id',
  },
  {
    kind: 'mergeParams router',
    build: (app) => {
      const members = express.Router({ mergeParams: true });
      members.get('/members/:id', ok);
      app.use('/teams/:team', members);
    },
    url: (i) => `/teams/t${i}/members/${i}`,
    label: '/teams/:team/members/:id',
  },
  {
    kind: 'a mount that passes, then a sibling that matches the same text',
    build: (app) => {
      const audit = express.Router();
      audit.use((_req, _res, next) => next());
      app.use('/docs/:doc', audit);
      const pages = express.Router();
      pages.get('/pages/:page', ok);
      app.use('/:section/:id', pages);
    },
    url: (i) => `/docs/d${i}/pages/${i}`,
    label: '/:section/:id/pages/:page',
  },
  {
    kind: 'trailing slash in the mount path',
    build: (app) => {
      const files = express.Router();
      files.get('/files/:name', ok);
      app.use('/drives/:drive/', files);
    },
    url: (i) => `/drives/d${i}/files/f${i}`,
    label: '/drives/:drive/files/:name',
  },
];

describe('Express route labels are the mount patterns at every depth', () => {
  it.each(MOUNTS)('$kind: 100 parameter values make one series, $label', async ({ build, url, label }) => {
    const base = await start(build);
    const statuses = await hammer((i) => base + url(i), 100, 8);
    expect(statuses).toEqual(new Array(100).fill(200));
    const { metrics } = await scrape(base);
    expect(samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.labels.status_code, s.value])).toEqual([[label, '200', 100]]);
  });

  it('keeps each element of an array of paths apart, and a router mounted twice under each mount', async () => {
    const base = await start((app) => {
      const things = express.Router();
      things.get('/things/:id', ok);
      app.use(['/plain', '/by/:owner'], things);
      const api = express.Router();
      api.get('/ping/:n', ok);
      app.use('/v1/:region', api);
      app.use('/v2', api);
    });
    await hammer((i) => `${base}/plain/things/${i}`, 3, 1);
    await hammer((i) => `${base}/by/o${i}/things/${i}`, 4, 1);
    await hammer((i) => `${base}/v1/r${i}/ping/${i}`, 5, 1);
    await hammer((i) => `${base}/v2/ping/${i}`, 6, 1);
    const { metrics } = await scrape(base);
    const series = samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.value]);
    expect(series.sort()).toEqual([
      ['/by/:owner/things/:id', 4],
      ['/plain/things/:id', 3],
      ['/v1/:region/ping/:n', 5],
      ['/v2/ping/:n', 6],
    ]);
  });

  it('mergeParams still merges: the handler sees the mount parameter and its own', async () => {
    const base = await start(MOUNTS.find((m) => m.kind === 'mergeParams router')!.build);
    expect(await (await fetch(`${base}/teams/red/members/7`)).json()).toEqual({ team: 'red', id: '7' });
  });

  it('labels a mounted route the same when instrument() runs after the mount', async () => {
    const base = await start(() => {}, {}, (app) => {
      const users = express.Router();
      users.get('/users/:id', ok);
      app.use('/orgs/:org', users);
    });
    await hammer((i) => `${base}/orgs/o${i}/users/${i}`, 10, 2);
    const { metrics } = await scrape(base);
    expect(samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.value])).toEqual([['/orgs/:org/users/:id', 10]]);
  });

  it('labels a failure thrown inside mounts with the template, with status 500', async () => {
    const base = await start((app) => {
      const tenant = express();
      const jobs = express.Router();
      jobs.get('/jobs/:id', () => {
        throw new Error('boom');
      });
      tenant.use('/queues/:queue', jobs);
      app.use('/tenants/:tenant', tenant);
    });
    expect(await hammer((i) => `${base}/tenants/t${i}/queues/q${i}/jobs/${i}`, 10, 2)).toEqual(new Array(10).fill(500));
    const { metrics } = await scrape(base);
    expect(samples(metrics, 'http_requests_total').map((s) => [s.labels.route, s.labels.status_code, s.value])).toEqual([
      ['/tenants/:tenant/queues/:queue/jobs/:id', '500', 10],
    ]);
  });

  it('keeps req.baseUrl the matched text: periscope changes no value Express gives the app', async () => {
    const base = await start((app) => {
      const shop = express.Router();
      const cart = express();
      cart.get('/lines/:line', (req, res) => {
        res.json({ baseUrl: req.baseUrl, originalUrl: req.originalUrl, next: typeof req.next });
      });
      shop.use('/carts/:cart', cart);
      app.use('/shops/:shop', shop);
    });
    expect(await (await fetch(`${base}/shops/s1/carts/c2/lines/3`)).json()).toEqual({
      baseUrl: '/shops/s1/carts/c2',
      originalUrl: '/shops/s1/carts/c2/lines/3',
      next: 'function',
    });
  });
});

describe('Express mount templates in request lines and span names', () => {
  let receiver: Receiver;
  let endpoint: string;
  beforeAll(async () => {
    receiver = new Receiver();
    endpoint = `${await receiver.start()}/v1/traces`;
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('the request line says route=/orgs/:org/users/:id and the span is named GET /orgs/:org/users/:id', async () => {
    const capture = new Capture();
    const base = await start(
      (app) => {
        const users = express.Router();
        users.get('/users/:id', ok);
        app.use('/orgs/:org', users);
        const tenant = express();
        tenant.get('/items/:id', ok);
        app.use('/tenants/:tenant', tenant);
        const reports = express.Router();
        reports.get('/reports/:id', ok);
        app.use(/^\/years\/(\d{4})/, reports);
      },
      { logging: { destination: capture }, tracing: fastExport(endpoint) },
    );
    const before = receiver.spans.length;
    for (const path of ['/orgs/acme/users/1', '/tenants/t9/items/2', '/years/2024/reports/3']) expect((await fetch(base + path)).status).toBe(200);
    await settle(server!);
    expect(capture.withMsg('request completed').map((l) => [l.route, l.path])).toEqual([
      ['/orgs/:org/users/:id', '/orgs/acme/users/1'],
      ['/tenants/:tenant/items/:id', '/tenants/t9/items/2'],
      [String(/^\/years\/(\d{4})/) + '/reports/:id', '/years/2024/reports/3'],
    ]);
    const spans = (await receiver.waitFor(before + 3)).slice(before);
    expect(spans.map((s) => [s.name, s.attributes['http.route']])).toEqual([
      ['GET /orgs/:org/users/:id', '/orgs/:org/users/:id'],
      ['GET /tenants/:tenant/items/:id', '/tenants/:tenant/items/:id'],
      [`GET ${String(/^\/years\/(\d{4})/)}/reports/:id`, String(/^\/years\/(\d{4})/) + '/reports/:id'],
    ]);
  });
});

describe('Express sub-apps get req.log', () => {
  it('in a sub-app mounted on the app (before or after instrument()), on a sub-app, and on a Router', async () => {
    const capture = new Capture();
    const logFrom = (where: string) => (req: Request, res: Response) => {
      req.log.info({ where }, 'inside a sub-app');
      res.json({ where });
    };
    const base = await start(
      (app) => {
        const after = express();
        after.get('/hi/:id', logFrom('mounted after instrument()'));
        app.use('/after/:a', after);
        const outer = express();
        const inner = express();
        inner.get('/hi/:id', logFrom('sub-app of a sub-app'));
        outer.use('/inner', inner);
        app.use('/outer', outer);
        const router = express.Router();
        const onRouter = express();
        onRouter.get('/hi/:id', logFrom('mounted on a Router'));
        router.use('/sub', onRouter);
        app.use('/router', router);
      },
      { logging: { destination: capture } },
      (app) => {
        const early = express();
        early.get('/hi/:id', logFrom('mounted before instrument()'));
        app.use('/early', early);
      },
    );
    const paths = ['/after/1/hi/1', '/early/hi/2', '/outer/inner/hi/3', '/router/sub/hi/4'];
    for (const path of paths) expect((await fetch(base + path)).status).toBe(200);
    await settle(server!);
    const inside = capture.withMsg('inside a sub-app');
    const done = capture.withMsg('request completed');
    expect(inside.map((l) => l.where)).toEqual(['mounted after instrument()', 'mounted before instrument()', 'sub-app of a sub-app', 'mounted on a Router']);
    expect(done.map((l) => l.route)).toEqual(['/after/:a/hi/:id', '/early/hi/:id', '/outer/inner/hi/:id', '/router/sub/hi/:id']);
    // Each sub-app line belongs to its request: same trace, same request ID.
    expect(inside.map((l) => [l.trace_id, l.request_id])).toEqual(done.map((l) => [l.trace_id, l.request_id]));
    expect(inside.map((l) => /^[0-9a-f]{32}$/.test(String(l.trace_id)))).toEqual([true, true, true, true]);
    expect(new Set(inside.map((l) => l.trace_id)).size).toBe(4);
  });

  it('leaves req.log undefined in an Express app periscope does not instrument, in the same process', async () => {
    await start(() => {}, { logging: { destination: new Capture() } });
    const plain = express();
    plain.get('/', (req, res) => {
      res.json({ log: typeof (req as { log?: unknown }).log });
    });
    const other = plain.listen(0, '127.0.0.1');
    await once(other, 'listening');
    try {
      expect(await (await fetch(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`)).json()).toEqual({ log: 'undefined' });
    } finally {
      other.closeAllConnections();
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});

describe('Express: a client that aborts its request body', () => {
  it.each(['on', 'off'] as const)('is counted 499, once, with logging %s', async (logging) => {
    const capture = new Capture();
    const options = logging === 'on' ? { logging: { destination: capture } } : { logging: false as const };
    const base = await start((app) => {
      app.post('/orders/:id', express.json(), (req, res) => {
        res.json(req.body);
      });
    }, options);
    const { port } = server!.address() as AddressInfo;
    const closed = new Promise<void>((resolve) => server!.once('request', (_req, res) => res.once('close', () => setImmediate(resolve))));
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    // 8 of the 1,000 body bytes announced, then the client goes away.
    socket.write('POST /orders/7 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":"12');
    socket.once('data', () => {
      throw new Error('the server answered a client that had gone');
    });
    await new Promise<void>((resolve) => server!.once('request', () => resolve()));
    socket.destroy();
    await closed;
    const { metrics } = await scrape(base);
    expect(samples(metrics, 'http_requests_total').map((s) => [s.labels.method, s.labels.route, s.labels.status_code, s.value])).toEqual([
      ['POST', '/orders/:id', '499', 1],
    ]);
    await settle(server!);
    const lines = capture.withMsg('request completed').map((l) => [l.route, l.status_code]);
    expect(lines).toEqual(logging === 'on' ? [['/orders/:id', 499]] : []);
  });
});
