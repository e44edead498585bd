import type { RegistrySnapshot } from '../core/snapshot.js';
import type { WireFamily } from './wire.js';

/**
 * The IPC messages between a periscope primary and its workers (over the cluster channel,
 * JSON-serialized; a worker's values as in wire.ts). Every one carries this tag, so the app's own messages are never mistaken
 * for them, and a worker of an older periscope that speaks another version is ignored.
 */
export const TAG = 'periscope.cluster/1';

export type LifecycleStateName = 'starting' | 'ready' | 'draining' | 'stopped';

export type PrimaryMessage =
  /**
   * Answer to a hello: this worker's slot. `wire: 2`: this primary reads the compact values of
   * wire.ts (label lists left out while unchanged, values in parts); a worker sends them only
   * then, so a worker of a newer periscope still answers a primary of an older one (files
   * updated on disk while the primary runs) in the form it reads.
   */
  | { readonly tag: typeof TAG; readonly type: 'welcome'; readonly slot: number; readonly wire?: 2 }
  /** Send your values; answer with `values` and the same id. */
  | { readonly tag: typeof TAG; readonly type: 'collect'; readonly id: number };

export type WorkerMessage =
  | { readonly tag: typeof TAG; readonly type: 'hello'; readonly state: LifecycleStateName }
  | { readonly tag: typeof TAG; readonly type: 'values'; readonly id: number; readonly state: LifecycleStateName; readonly families: readonly WireFamily[] | RegistrySnapshot }
  | { readonly tag: typeof TAG; readonly type: 'state'; readonly state: LifecycleStateName };

export function isMessage(value: unknown): value is { tag: typeof TAG; type: string } {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === TAG && typeof (value as { type?: unknown }).type === 'string';
}
