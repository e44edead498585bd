import { describe, expect, it } from 'vitest';
import { isCredentialKey, MASK, maskCredentials, sanitizeText } from '../../src/core/index.js';

describe('the one sanitizer', () => {
  it.each([
    ['http://admin:pw@host/health', `http://${MASK}@host/health`],
    ['connect ECONNREFUSED postgres://user:s3cr3t@db:5432/app', `connect ECONNREFUSED postgres://${MASK}@db:5432/app`],
    ['redis://:hunter2@cache:6379/0 and https://token123@api.example/x', `redis://${MASK}@cache:6379/0 and https://${MASK}@api.example/x`],
    ['host=db user=app password=hunter2 dbname=x', `host=db user=app password=${MASK} dbname=x`],
    ['token: abc.def and api_key="k 1"', `token: ${MASK} and api_key=${MASK}`],
    ['no secret here: http://host:8080/path?x=1', 'no secret here: http://host:8080/path?x=1'],
  ])('masks credentials in %j', (input, expected) => {
    expect(maskCredentials(input)).toBe(expected);
  });

  it('escapes control characters, so a message cannot start a line of its own', () => {
    expect(sanitizeText('x\n[+]fake_db ok\r\t\u0000\u001b[31m\u202e')).toBe('x\\n[+]fake_db ok\\r\\t\\u0000\\u001b[31m\\u202e');
  });

  it('caps the length in UTF-8 bytes on a code point boundary, marked as truncated', () => {
    const out = sanitizeText('é'.repeat(600), 512);
    expect(Buffer.byteLength(out, 'utf8')).toBeLessThanOrEqual(512);
    expect(out).toBe(`${'é'.repeat(249)}…[truncated]`);
    expect(sanitizeText('short')).toBe('short');
  });

  it('takes an Error by its message, and anything else by String()', () => {
    expect(sanitizeText(new Error('bad postgres://u:p@h/d'))).toBe(`bad postgres://${MASK}@h/d`);
    expect(sanitizeText(42)).toBe('42');
  });

  // Each of these took 12 to 16 s before the scheme was bounded (every start position re-read
  // the rest of the text); the output is asserted exactly, the time is not.
  it.each([
    ['100 KB of scheme letters, then a credential', `${'a'.repeat(100_000)}://user:pw@host`, `${'a'.repeat(100_000)}://${MASK}@host`],
    ['100 KB of scheme letters and a colon', `${'a'.repeat(100_000)}:`, `${'a'.repeat(100_000)}:`],
    ['a scheme and 100 KB of userinfo with no @', `a://${'b'.repeat(100_000)}`, `a://${'b'.repeat(100_000)}`],
    ['100 KB of userinfo, then the @', `a://${'b'.repeat(100_000)}@host`, `a://${MASK}@host`],
    ['a key and 100 KB of spaces', `password${' '.repeat(100_000)}`, `password${' '.repeat(100_000)}`],
    ['many keys with open quotes', 'password="'.repeat(10_000), `password=${MASK}`.repeat(5_000)],
  ])('a hostile 100 KB input (%s) is sanitized in one linear pass', (_name, input, masked) => {
    expect(sanitizeText(input, 1_000_000)).toBe(masked);
    expect(sanitizeText(input)).toBe(masked.length <= 512 ? masked : `${masked.slice(0, 498)}…[truncated]`);
  });

  it.each([
    ['password', true],
    ['bearerToken', true],
    ['metrics.auth.password', true],
    ['headers.authorization', true],
    ['apiKey', true],
    ['timeoutMs', false],
    ['path', false],
    ['endpoint', false],
  ])('%s is a credential key: %s', (name, expected) => {
    expect(isCredentialKey(name)).toBe(expected);
  });
});
