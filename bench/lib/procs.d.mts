import type { ChildProcess } from 'node:child_process';
import type { LoadResult } from './stats.mjs';

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
