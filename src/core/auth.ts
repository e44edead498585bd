import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointHandler } from './endpoints.js';

/** Credentials an operational endpoint requires: a bearer token, or basic-auth username and password. */
export type EndpointAuth = { bearerToken: string } | { username: string; password: string };

/** What a request presented: no `Authorization` header, the right credentials, or anything else. */
export type Presented = 'none' | 'valid' | 'invalid';

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * A verifier of `auth`. Credentials are compared as SHA-256 digests with timingSafeEqual, so
 * neither their content nor their length leaks through timing.
 */
export function verifier(auth: EndpointAuth): (req: IncomingMessage) => Presented {
  const bearer = 'bearerToken' in auth;
  const expected = digest(bearer ? auth.bearerToken : `${auth.username}:${auth.password}`);
  const prefix = `${bearer ? 'bearer' : 'basic'} `;
  return (req) => {
    const header = req.headers.authorization;
    if (header === undefined) return 'none';
    let presented: string | undefined;
    // Bounded: a hostile multi-megabyte header is refused before any decoding.
    if (header.length <= 4096 && header.slice(0, prefix.length).toLowerCase() === prefix) {
      const credential = header.slice(prefix.length).trim();
      presented = bearer ? credential : Buffer.from(credential, 'base64').toString('utf8');
    }
    return presented !== undefined && timingSafeEqual(digest(presented), expected) ? 'valid' : 'invalid';
  };
}

/** Answers 401 with `WWW-Authenticate` for `auth`'s scheme and a body that says nothing about the service. */
export function unauthorized(res: ServerResponse, auth: EndpointAuth): void {
  const challenge = 'bearerToken' in auth ? 'Bearer realm="periscope"' : 'Basic realm="periscope", charset="UTF-8"';
  res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end('Unauthorized\n');
}

/**
 * Wraps `handler` so it answers only requests carrying `auth` (see {@link verifier}). A
 * missing or wrong credential gets {@link unauthorized}.
 */
export function protect(handler: EndpointHandler, auth: EndpointAuth): EndpointHandler {
  const verify = verifier(auth);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (verify(req) !== 'valid') return unauthorized(res, auth);
    return handler(req, res);
  };
}
