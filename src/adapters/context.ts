import type { IncomingMessage, Server } from 'node:http';
import type { Core, Endpoints } from '../core/index.js';
import type { LoggingSubsystem } from '../logging/index.js';

/** What instrument() hands an adapter: it translates framework hooks into these calls. */
export interface AdapterContext {
  /** Builds the request core once the adapter knows how to resolve routes. */
  createCore(resolveRoute?: (req: IncomingMessage) => string | undefined): Core;
  /** Endpoints to serve on the app itself (empty when they live on a management port). */
  readonly endpoints: Endpoints;
  /**
   * Tells periscope which server carries the app's traffic (connection gauge, shutdown), and
   * how the framework closes it when the shutdown must go through the framework.
   */
  trackServer(server: Server, close?: () => Promise<unknown>): void;
  report(error: unknown, where: string): void;
  /** Warns once per code (the one internal reporter). */
  notice(code: string, message: string): void;
  /** The logging concern, when on: request IDs and request loggers (`req.log`, Fastify's `request.log`). */
  readonly logging: Pick<LoggingSubsystem, 'requestIds' | 'requestId' | 'requestLogger' | 'fastify'> | undefined;
}

/** What an adapter gives back. */
export interface AdapterHandle {
  readonly framework: 'fastify' | 'express' | 'node-http';
}
