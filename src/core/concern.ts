import type { Server } from 'node:http';
import type { Registry } from '@prometheus-io/client';
import { Endpoints } from './endpoints.js';
import type { EndpointHandler } from './endpoints.js';
import { ManagementServers } from './management.js';
import type { LoggerLike, Report } from './reporter.js';
import type { RequestHook } from './scope.js';

/** One endpoint a concern serves. */
export interface EndpointSpec {
  /** `/metrics`; a path ending in `/*` serves everything below it. */
  readonly path: string;
  readonly handler: EndpointHandler;
  /** A management port (0 picks a free one); undefined serves the endpoint on the app itself. */
  readonly port?: number | undefined;
  /** The interface the management server binds to, with `port`. */
  readonly host?: string | undefined;
}

/**
 * When a shutdown step runs: `close` after the app has drained and the user's hooks ran
 * (stop timers, close periscope's own servers), `flush` last of all (spans, then logs), so
 * the shutdown's own lines and the last requests' spans leave the process.
 */
export type ShutdownPhase = 'close' | 'flush';

export interface ShutdownStep {
  readonly phase: ShutdownPhase;
  /** Names the step in the log line of a failure. */
  readonly name: string;
  run(): unknown;
}

/**
 * Everything a concern may contribute, modelled on OpenTelemetry's SpanProcessor: the
 * composition root (`instrument()`) wires these and knows nothing of the concern's inside.
 * Concerns never import each other: what one needs of another is handed in at creation as a
 * narrow sink (a registry to register metrics in, a function that registers a health check).
 */
export interface Concern {
  readonly name: string;
  /** Called at the start and the end of every request, in the order of the concern list. */
  readonly hook?: RequestHook | undefined;
  readonly endpoints?: readonly EndpointSpec[] | undefined;
  /**
   * Told of each server that carries the app's traffic, with the framework's own way to
   * close it when it has one (Fastify's `close()` runs the app's onClose hooks).
   */
  trackServer?(server: Server, close?: () => Promise<unknown>): void;
  /** Run by the graceful shutdown, phase by phase, in the order of the concern list. */
  readonly shutdown?: readonly ShutdownStep[] | undefined;
}

/** What every concern is handed at creation: the same object for all. */
export interface ConcernContext {
  readonly service: { readonly name: string; readonly version: string; readonly commit: string };
  readonly framework: 'fastify' | 'express' | 'node-http';
  /** Where a concern registers its metrics; undefined when metrics are off. */
  readonly registry: Registry | undefined;
  /** periscope's logger (a silent one with `logging: false`). */
  readonly logger: LoggerLike;
  readonly report: Report;
  /** Warns once per code (through the logger, or as a process warning with `logging: false`). */
  notice(code: string, message: string): void;
  /** One warning line with `periscope_error: code`, every time: the caller throttles. */
  warn(code: string, message: string, fields?: object): void;
}

/** The concerns of one `instrument()` call, wired. */
export interface Composition {
  readonly hooks: readonly RequestHook[];
  /** Endpoints served on the app itself. */
  readonly endpoints: Endpoints;
  readonly management: ManagementServers;
  trackServer(server: Server, close?: () => Promise<unknown>): void;
  /** Every concern's steps of `phase`, in list order (the management servers close last). */
  steps(phase: ShutdownPhase): ShutdownStep[];
}

/** Collects what each concern contributes; the list's order is the hooks' and the steps' order. */
export function compose(concerns: readonly (Concern | undefined)[], report: Report): Composition {
  const list = concerns.filter((c): c is Concern => c !== undefined);
  const endpoints = new Endpoints(report);
  const management = new ManagementServers(report);
  for (const c of list) {
    for (const e of c.endpoints ?? []) {
      (e.port === undefined ? endpoints : management.endpointsFor(e.port, e.host, c.name)).add(e.path, e.handler);
    }
  }
  const trackers = list.filter((c) => c.trackServer !== undefined);
  return {
    hooks: list.flatMap((c) => (c.hook === undefined ? [] : [c.hook])),
    endpoints,
    management,
    trackServer(server, close) {
      for (const c of trackers) c.trackServer!(server, close);
    },
    steps: (phase) => {
      const steps = list.flatMap((c) => (c.shutdown ?? []).filter((s) => s.phase === phase));
      if (phase === 'close') steps.push({ phase, name: 'management-servers', run: () => management.close() });
      return steps;
    },
  };
}
