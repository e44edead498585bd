import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Name of the cookie the login sets. */
export const COOKIE = 'periscope_console';

/** A fresh random token, 256 bits, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Compares in constant time: both sides are hashed first, so neither the content nor the
 * length of the token leaks through how long a wrong guess takes.
 */
export function tokenMatches(expected: Buffer, presented: string | undefined): boolean {
  if (presented === undefined || presented.length > 512) return false;
  return timingSafeEqual(expected, digest(presented));
}

export function tokenDigest(token: string): Buffer {
  return digest(token);
}

/** The token a request presents: `Authorization: Bearer`, else the login cookie. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined && /^bearer /i.test(auth)) return auth.slice(7).trim();
  const cookie = req.headers.cookie;
  if (cookie === undefined || cookie.length > 8192) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * True when the `Host` header names the console: `127.0.0.1`, `localhost` or `[::1]` on the
 * console's own port, or one of `allowed` (names the user listed for a tunnel or a local reverse
 * proxy) on any port or none, since what the client saw is the tunnel's port, not the console's.
 * A page on another name that resolves to 127.0.0.1 (DNS rebinding) sends its own name, and is
 * refused.
 */
export function hostAllowed(host: string | undefined, port: number, allowed: readonly string[]): boolean {
  if (host === undefined || host.length > 300) return false;
  const h = host.toLowerCase();
  let name = h;
  let hostPort: string | undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end === -1) return false;
    name = h.slice(0, end + 1);
    const rest = h.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return false;
      hostPort = rest.slice(1);
    }
  } else {
    const colon = h.lastIndexOf(':');
    if (colon !== -1) {
      name = h.slice(0, colon);
      hostPort = h.slice(colon + 1);
    }
  }
  if (name === '127.0.0.1' || name === 'localhost' || name === '[::1]') return hostPort === String(port);
  return allowed.includes(name);
}
