import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * An incoming request ID is accepted only when it is 1..maxLength visible ASCII characters
 * (0x21-0x7e): no spaces, control characters or non-ASCII, so it cannot forge log lines or
 * response headers, and a client cannot make the log carry megabytes of it.
 */
export function saneRequestId(value: unknown, maxLength: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const n = value.length;
  if (n === 0 || n > maxLength) return undefined;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return undefined;
  }
  return value;
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/**
 * The trace ID of a W3C `traceparent` header (`vv-<32 hex>-<16 hex>-<2 hex>`), or undefined.
 * The server span continues that trace, so this is the request's trace ID even before the
 * tracing subsystem has made its span.
 */
export function traceIdOfTraceparent(header: unknown): string | undefined {
  if (typeof header !== 'string' || header.length < 55) return undefined;
  if (header.charCodeAt(2) !== 0x2d || header.charCodeAt(35) !== 0x2d || header.charCodeAt(52) !== 0x2d) return undefined;
  if (!isLowerHex(header, 0, 2) || header.startsWith('ff') || !isLowerHex(header, 3, 35) || !isLowerHex(header, 36, 52)) return undefined;
  // Version 00 is exactly 55 characters; later versions may append fields after a dash.
  if (header.length > 55 && (header.startsWith('00') || header.charCodeAt(55) !== 0x2d)) return undefined;
  const traceId = header.slice(3, 35);
  return traceId === '00000000000000000000000000000000' ? undefined : traceId;
}

const kRequestId = Symbol('periscope.requestId');

/**
 * The request's ID, decided once and kept on the request: a sane incoming header, else the
 * request span's trace ID (`traceId`, from the request scope, or the active span), else the
 * `traceparent` trace ID, else a random UUID. Whoever asks first decides; later calls get
 * the same value.
 */
export function requestIdOf(req: IncomingMessage, header: string, maxLength: number, traceId?: string): string {
  const r = req as unknown as Record<symbol, string | undefined>;
  const known = r[kRequestId];
  if (known !== undefined) return known;
  let id = saneRequestId(req.headers[header], maxLength) ?? traceId;
  if (id === undefined) {
    const sc = trace.getActiveSpan()?.spanContext();
    if (sc !== undefined && isSpanContextValid(sc)) id = sc.traceId;
  }
  id ??= traceIdOfTraceparent(req.headers.traceparent) ?? randomUUID();
  r[kRequestId] = id;
  return id;
}
