import { OutgoingMessage } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { randomUuid } from '../tracing/ids.js';

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

/** The last request ID {@link requestIdOf} made itself (a UUID). */
let lastMade = '';

/**
 * True when `id` is the last request ID periscope made (a UUID: hex digits and dashes, nothing
 * a JSON string must escape). False for any other, also for earlier UUIDs of its own.
 */
export function isMadeRequestId(id: string): boolean {
  return id === lastMade;
}

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
  if (id === undefined) {
    id = traceIdOfTraceparent(req.headers.traceparent);
    if (id === undefined) id = lastMade = randomUuid();
  }
  r[kRequestId] = id;
  return id;
}

/** Node's own `setHeader`, and the symbol under which an outgoing message keeps its headers. */
const nativeSetHeader = OutgoingMessage.prototype.setHeader;
const kOutHeaders = Object.getOwnPropertySymbols(new OutgoingMessage()).find((s) => s.description === 'kOutHeaders');

type OutHeaders = Record<string, [string, string]>;

/**
 * Sets the request ID response header, as `res.setHeader(header, id)` does, for a `header`
 * that is a valid lowercase header name (the options check it) and an `id` that
 * {@link requestIdOf} returned: visible ASCII, a trace ID or a UUID, all valid header values.
 * Node's `setHeader` checks the name and the value with regular expressions and lowercases the
 * name on every call; with both known valid, this stores the entry `setHeader` would store,
 * in the same place, so the header is the same on the wire and in `res.getHeader`. When
 * `setHeader` was replaced (on the response or its prototype) or Node keeps headers some other
 * way, it calls `setHeader`.
 */
export function setRequestIdHeader(res: ServerResponse, header: string, id: string): void {
  const r = res as unknown as Record<symbol, OutHeaders | null | undefined>;
  const headers = kOutHeaders === undefined ? undefined : r[kOutHeaders];
  if (headers === undefined || res.setHeader !== nativeSetHeader) {
    res.setHeader(header, id);
    return;
  }
  if (headers !== null) headers[header] = [header, id];
  else {
    // The prototype-less object setHeader makes, but in V8's fast mode (`{ __proto__: null }`
    // is a dictionary): Node's writeHead then adds the framework's headers to it and walks its
    // keys, which is cheaper on a fast object.
    const fresh = Object.setPrototypeOf({}, null) as OutHeaders;
    fresh[header] = [header, id];
    r[kOutHeaders!] = fresh;
  }
}
