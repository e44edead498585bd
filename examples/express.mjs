// The periscope demo on Express: `npm run start:express`, then open the URLs it prints.
import express from 'express';
import { instrument } from 'periscope-node';

const app = express();
const obs = instrument(app, { serviceName: 'periscope-demo-express' });

const MAX_SLOW_MS = 10_000;

app.get('/hello/:name', (req, res) => {
  res.json({ hello: req.params.name });
});

app.get('/slow', async (req, res) => {
  const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), MAX_SLOW_MS);
  await new Promise((resolve) => setTimeout(resolve, ms));
  res.json({ waitedMs: ms });
});

app.get('/fail', async () => {
  throw new Error('this route always fails');
});

const users = express.Router();
users.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: `user ${req.params.id}` });
});
app.use('/api/v1', users);

// Loopback unless HOST says otherwise (HOST=0.0.0.0 accepts other machines, as in a container).
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
// The URLs printed: localhost for loopback and wildcard addresses, else the address itself.
const urlHost = ['127.0.0.1', '::1', '0.0.0.0', '::'].includes(host) ? 'localhost' : host.includes(':') ? `[${host}]` : host;
const server = app.listen(port, host, () => {
  const base = `http://${urlHost}:${server.address().port}`;
  const lines = [
    `periscope demo (${obs.framework}) listening on ${host}:${server.address().port} (HOST, PORT)`,
    `  service:  ${base}/hello/world   ${base}/slow?ms=250   ${base}/fail   ${base}/api/v1/users/42`,
    `  metrics:  ${base}/metrics`,
  ];
  if (obs.health !== undefined) lines.push(`  health:   ${base}/livez   ${base}/readyz   ${base}/healthz`);
  console.log(lines.join('\n'));
});
