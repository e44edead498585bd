import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Counter } from '@prometheus-io/client';
import type { Registry } from '@prometheus-io/client';
import type { LoggerLike } from '../core/index.js';

/** Why Node rejected a request before any handler saw it: a bounded set. */
export type RejectReason = 'header_too_large' | 'request_timeout' | 'invalid_method' | 'malformed' | 'connection_error';
const REASONS: readonly RejectReason[] = ['header_too_large', 'request_timeout', 'invalid_method', 'malformed', 'connection_error'];

function reasonOf(error: NodeJS.ErrnoException): RejectReason {
  const code = error.code ?? '';
  if (code === 'HPE_HEADER_OVERFLOW') return 'header_too_large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (code === 'HPE_INVALID_METHOD') return 'invalid_method';
  return code.startsWith('HPE_') ? 'malformed' : 'connection_error';
}

/** The answers Node's own clientError handling writes (lib/_http_server.js), for when periscope's listener is the only one. */
function defaultAnswer(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n';
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return 'HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\n\r\n';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';
  return 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n';
}

/** At most one debug line a second, saying how many rejections it stands for. */
const LOG_INTERVAL_MS = 1000;

/**
 * Requests Node rejects before any handler runs (header too large, malformed request line,
 * request timeout), from the server's `clientError` event: counted in
 * `http_server_rejected_requests_total{reason}` and logged at debug, rate-limited. A
 * `clientError` listener replaces Node's own answer, so when periscope's is the only one it
 * answers as Node would; when the app or its framework (Fastify) has its own, that one answers.
 */
export function trackRejections(registry: Registry, logger: LoggerLike): (server: Server) => void {
  const counter = new Counter({
    name: 'http_server_rejected_requests_total',
    help: 'Requests the HTTP server rejected before any handler ran, by reason (header_too_large, request_timeout, invalid_method, malformed, connection_error).',
    labelNames: ['reason'],
    registers: [registry],
  });
  const children = Object.fromEntries(REASONS.map((r) => [r, counter.labels({ reason: r })])) as Record<RejectReason, Counter.Internal>;
  for (const r of REASONS) children[r].inc(0);
  let lastLog = -Infinity;
  let unlogged = 0;
  const seen = new WeakSet<Server>();
  return (server) => {
    if (seen.has(server)) return;
    seen.add(server);
    server.on('clientError', function periscopeClientError(this: Server, error: NodeJS.ErrnoException, socket: Socket) {
      const reason = reasonOf(error);
      children[reason].inc();
      unlogged++;
      const now = performance.now();
      if (now - lastLog >= LOG_INTERVAL_MS) {
        lastLog = now;
        logger.debug({ reason, code: error.code, rejected: unlogged }, 'request rejected before any handler ran');
        unlogged = 0;
      }
      if (this.listenerCount('clientError') > 1) return;
      if (socket.writable && socket.bytesWritten === 0) socket.write(defaultAnswer(error.code));
      socket.destroy(error);
    });
  };
}
