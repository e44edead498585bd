export const QUIET_LOAD: number;
export function loadAverage(): number;
export function settledLoad(settleSeconds: number, log?: (line: string) => void): Promise<{ load: number; immediate: number; waited_s: number }>;
export function judge(start: number, end: number, limit?: number): { judged: boolean; reason: string | null };
export function parseProcStat(text: string): { busy: number; steal: number };
export function parseSelfStat(text: string): number;
export interface CpuWindowResult {
  seconds: number;
  others_cpus: number;
  own_cpus: number;
  steal_cpus: number;
}
export function cpuWindow(): { end(): CpuWindowResult | null };
export function cpuLine(w: CpuWindowResult, cpus: number): string;
