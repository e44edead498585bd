export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
}
export function median(values: readonly number[]): number;
export function pairedRatio(a: readonly number[], b: readonly number[]): number | null;
export function pairedRatioRange(a: readonly number[], b: readonly number[]): { median: number; min: number; max: number; n: number } | null;
export function toMs(text: string): number;
export function parseWrk(text: string): LoadResult;
export function parseTails(text: string): LoadResult & { p90_ms: number; p999_ms: number; p9999_ms: number; max_ms: number; mean_ms: number };
