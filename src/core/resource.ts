import { arch, hostname } from 'node:os';
import type { Attributes } from '@opentelemetry/api';
import { defaultResource, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';

/**
 * The OpenTelemetry resource of everything periscope exports (spans and OTLP metrics carry the
 * same one): the SDK's defaults, host and process, the configured attributes, then the service.
 */
export function serviceResource(service: { name: string; version: string }, attributes: Readonly<Record<string, string | number | boolean>>): Resource {
  // host.id is left out: the SDK's host detector reads it asynchronously, and a resource with
  // pending attributes would hold every export back until it settles.
  const host: Attributes = { 'host.name': hostname(), 'host.arch': arch() };
  return defaultResource()
    .merge(resourceFromAttributes(host))
    .merge(resourceFromAttributes(processDetector.detect().attributes ?? {}))
    .merge(resourceFromAttributes(attributes))
    .merge(resourceFromAttributes({ 'service.name': service.name, 'service.version': service.version }));
}
