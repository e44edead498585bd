import { describe, expect, it } from 'vitest';
import { redisQueryText } from '../../src/db/redis.js';
import { statementShape } from '../../src/db/postgres.js';
import { dbErrorType } from '../../src/db/operation.js';

describe('redisQueryText: values redacted after OpenTelemetry redis instrumentation rules', () => {
  it.each([
    ['GET', ['user:1'], 'GET user:1'],
    ['SET', ['k', 'hunter2-secret', 'EX', '60'], 'SET k ? ? ?'],
    ['HSET', ['h', 'field', 'value'], 'HSET h field ?'],
    ['MGET', ['a', 'b'], 'MGET ? ?'],
    ['AUTH', ['user', 'pass'], 'AUTH ? ?'],
    ['ECHO', ['hello'], 'ECHO ?'],
    ['MYMODULE.CMD', ['x'], 'MYMODULE.CMD ?'],
    ['LPUSH', ['list', 'v1', 'v2'], 'LPUSH list ? ?'],
  ])('%s %j -> %s', (command, args, text) => {
    expect(redisQueryText(command, args)).toBe(text);
  });

  it('skips the command name node-redis puts first, and caps the text', () => {
    expect(redisQueryText('SET', ['SET', 'k', 'v'], 1)).toBe('SET k ?');
    expect(redisQueryText('GET', ['x'.repeat(5000)]).length).toBe(1024);
  });
});

describe('statementShape: operation and table, cheaply', () => {
  it.each([
    ['SELECT 1', 'SELECT', undefined],
    ['select * from users where id = $1', 'SELECT', 'users'],
    ['SELECT count(*) AS n FROM public.orders', 'SELECT', 'public.orders'],
    ['INSERT INTO "Orders" (id) VALUES ($1)', 'INSERT', 'Orders'],
    ['UPDATE accounts SET balance = $1 WHERE id = $2', 'UPDATE', 'accounts'],
    ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'sessions'],
    ['SELECT * FROM a JOIN b ON a.id = b.a_id', 'SELECT', undefined],
    ['  (SELECT 1)', 'SELECT', undefined],
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'WITH', undefined],
    ['-- comment\nSELECT 1', 'SELECT', undefined],
    ["/* traceparent='00-...' */ UPDATE t SET a = 1", 'UPDATE', undefined],
    ['$$ weird', '_OTHER', undefined],
  ])('%j', (text, operation, collection) => {
    expect(statementShape(text)).toEqual({ operation, collection });
  });
});

describe('dbErrorType', () => {
  it('is the driver code when there is one, else the class', () => {
    expect(dbErrorType(Object.assign(new Error('x'), { code: '42601' }))).toBe('42601');
    class ReplyError extends Error {}
    expect(dbErrorType(new ReplyError('WRONGTYPE'))).toBe('ReplyError');
    expect(dbErrorType('string')).toBe('_OTHER');
  });
});
