/**
 * The one sanitizer for everything periscope echoes from outside (check messages, URLs, driver
 * errors, query parameters, env values) into a response or a log line: credentials masked,
 * control characters escaped, length capped. After Spring Boot Actuator's `Sanitizer`.
 */

/** What a masked credential shows as. */
export const MASK = '******';

/** Default cap on an echoed text, in UTF-8 bytes. */
export const MAX_ECHO_BYTES = 512;

const TRUNCATED = '…[truncated]';

/*
 * Both patterns run on hostile text (a driver error, a query parameter), so no quantifier may
 * scan far from each of many start positions: with an unbounded scheme, 100 KB of letters took
 * 15 s (every position re-read the rest of the text). The scheme is bounded to 32 characters
 * (real ones are 2 to 12); the userinfo run stays unbounded, as a bound would let a long
 * password through unmasked, but it stops at the first `/`, and every `://` holds one, so the
 * runs scanned from different `://` never overlap and the whole match stays linear.
 */
/** `scheme://user:password@` and `scheme://token@`: the whole userinfo goes. */
const URL_USERINFO = /([a-z][a-z0-9+.-]{0,31}:\/\/)[^\s/?#@]+@/gi;
/** `password=...`, `pwd: ...`, `token=...` in connection strings and messages. */
const KEY_VALUE_SECRET = /\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)(\s{0,16}[=:]\s{0,16})("[^"]*"|'[^']*'|[^\s&;,]+)/gi;
/** C0 and C1 control characters, DEL, and the bidirectional overrides that reorder what a terminal shows. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  return ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Masks the credentials a text may carry: URL userinfo and `password=`-style pairs. */
export function maskCredentials(text: string): string {
  return text.replace(URL_USERINFO, `$1${MASK}@`).replace(KEY_VALUE_SECRET, `$1$2${MASK}`);
}

/**
 * `value` as text safe to serve or log: credentials masked, control characters escaped (so it
 * can never start a new line of a text probe or forge a log line), at most `maxBytes` UTF-8
 * bytes, with `…[truncated]` at the end when cut.
 */
export function sanitizeText(value: unknown, maxBytes: number = MAX_ECHO_BYTES): string {
  let text = maskCredentials(typeof value === 'string' ? value : value instanceof Error ? value.message : String(value));
  text = text.replace(UNSAFE, escapeChar);
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const room = Math.max(0, maxBytes - Buffer.byteLength(TRUNCATED, 'utf8'));
  // Cut on a code point boundary: decoding a cut buffer would leave a replacement character.
  let cut = Buffer.from(text, 'utf8').subarray(0, room).toString('utf8');
  if (cut.endsWith('\ufffd')) cut = cut.slice(0, -1);
  return cut + TRUNCATED;
}

/** True for a setting name that holds a credential (`password`, `bearerToken`, `apiKey`, `headers.authorization`, ...). */
export function isCredentialKey(name: string): boolean {
  return /pass(word|wd)?|secret|token|api[_-]?key|credential|authorization|cookie/i.test(name);
}
