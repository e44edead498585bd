export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
}
export function median(values: readonly number[]): number;
export function pairedRatio(a: readonly number[], b: readonly number[]): number | null;
export function toMs(text: string): number;
export function parseWrk(text: string): LoadResult;
