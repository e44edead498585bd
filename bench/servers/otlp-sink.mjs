// A stand-in OTLP/HTTP collector on loopback: reads each export request, answers 200 with
// an empty response in the request's encoding (a full success in OTLP/HTTP: `{}` for JSON, no
// bytes for protobuf), and counts requests and bytes.
//   node bench/servers/otlp-sink.mjs
import { createServer } from 'node:http';
import { ready } from './common.mjs';

let requests = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    requests++;
    if (req.headers['content-type'] === 'application/x-protobuf') res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    else res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 }).end('{}');
  });
});
process.on('message', (message) => {
  if (message === 'stats') process.send({ stats: { requests, bytes } });
});
server.listen(0, '127.0.0.1', () => ready(server.address().port));
