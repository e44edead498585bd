import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointHandler } from './endpoints.js';

/** Credentials an operational endpoint requires: a bearer token, or basic-auth username and password. */
export type EndpointAuth = { bearerToken: string } | { username: string; password: string };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Wraps `handler` so it answers only requests carrying `auth`. Credentials are compared as
 * SHA-256 digests with timingSafeEqual, so neither their content nor their length leaks
 * through timing. A missing or wrong credential gets 401 with `WWW-Authenticate` and a body
 * that says nothing about the service.
 */
export function protect(handler: EndpointHandler, auth: EndpointAuth): EndpointHandler {
  const bearer = 'bearerToken' in auth;
  const expected = digest(bearer ? auth.bearerToken : `${auth.username}:${auth.password}`);
  const scheme = bearer ? 'Bearer' : 'Basic';
  const challenge = bearer ? 'Bearer realm="periscope"' : 'Basic realm="periscope", charset="UTF-8"';
  const prefix = `${scheme.toLowerCase()} `;
  return (req: IncomingMessage, res: ServerResponse) => {
    const header = req.headers.authorization;
    let presented: string | undefined;
    // Bounded: a hostile multi-megabyte header is refused before any decoding.
    if (typeof header === 'string' && header.length <= 4096 && header.slice(0, prefix.length).toLowerCase() === prefix) {
      const credential = header.slice(prefix.length).trim();
      presented = bearer ? credential : Buffer.from(credential, 'base64').toString('utf8');
    }
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('Unauthorized\n');
      return;
    }
    return handler(req, res);
  };
}
