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
 * True when the `Host` header names the console: `127.0.0.1`, `localhost` or one of the
 * allowed hosts, on the console's port. A page on another name that resolves to 127.0.0.1
 * (DNS rebinding) sends its own name, and is refused.
 */
export function hostAllowed(host: string | undefined, port: number, allowed: readonly string[]): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon === -1 || h.endsWith(']')) return false;
  if (h.slice(colon + 1) !== String(port)) return false;
  const name = h.slice(0, colon);
  return name === '127.0.0.1' || name === 'localhost' || allowed.includes(name);
}
