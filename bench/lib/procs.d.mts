import type { ChildProcess } from 'node:child_process';
import type { LoadResult, parseTails } from './stats.mjs';

export interface StartedServer {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr(): string;
}
export const ROOT: string;
export const PINNING: { server: string; load: string } | null;
export const HAS_WRK: boolean;
export function startServer(
  name: string,
  args: string[],
  options?: { cpu?: string; timeoutMs?: number; stdout?: string; nodeArgs?: string[] },
): Promise<StartedServer | { unavailable: string }>;
export function stop(server: { child?: ChildProcess } | undefined, graceMs?: number): Promise<void>;
export function rssMb(pid: number): number;
export function cpuMicros(pid: number): number;
export function statCpuMicros(stat: string): number;
export function run(command: string, args: string[], timeoutMs: number): Promise<string>;
export function load(url: string, seconds: number, connections: number): Promise<LoadResult>;
export function memory(server: { child: ChildProcess }, timeoutMs?: number): Promise<{ rss_mb: number; heap_mb: number; heap_total_mb: number; external_mb: number }>;
export function loadCount(
  url: string,
  connections: number,
  options?: { seconds?: number; count?: number; randomPaths?: boolean; numberedPaths?: boolean; timeoutMs?: number },
): Promise<LoadResult & { status4xx: number; seconds: number }>;
export function ask(server: { child: ChildProcess }, message: string, key: string, timeoutMs?: number): Promise<unknown>;
export interface LoopStats {
  seconds: number;
  loop_delay: { resolution_ms: number; samples: number; min_ms: number; mean_ms: number; p50_ms: number; p99_ms: number; p999_ms: number; max_ms: number };
  gc: { count: number; total_ms: number; max_ms: number; by_kind: Record<string, { count: number; total_ms: number; max_ms: number }> };
}
export function resetLoopStats(server: { child: ChildProcess }): Promise<true>;
export function loopStats(server: { child: ChildProcess }): Promise<LoopStats>;
export function loadTails(url: string, seconds: number, connections: number): Promise<ReturnType<typeof parseTails>>;
export interface VariantServer extends StartedServer {
  framework: string;
  variant: string;
  url: string;
  runs: unknown[];
}
export function startVariants(
  frameworks: string[],
  variants: string[],
  args: string[],
  servers: VariantServer[],
  skipped: { framework: string; variant: string; reason: string }[],
  log: (line: string) => void,
): Promise<void>;
export function warmAndRotate(
  servers: VariantServer[],
  opts: { frameworks: string[]; reps: number; warmup: number; connections: number },
  warm: (url: string, seconds: number, connections: number) => Promise<unknown>,
  measure: (server: VariantServer, rep: number) => Promise<unknown>,
  log: (line: string) => void,
): Promise<void>;
