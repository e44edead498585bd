export const QUIET_LOAD: number;
export function loadAverage(): number;
export function settledLoad(settleSeconds: number, log?: (line: string) => void): Promise<LoadReading>;
export const QUIET_STEAL: number;
export function judge(start: number, end: number, limit?: number, steal?: number): { judged: boolean; reason: string | null };
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
export interface LoadReading {
  load: number;
  immediate: number;
  waited_s: number;
}
export interface QuietReadings {
  startLoad: LoadReading;
  endLoad: LoadReading;
  cpu: CpuWindowResult | null;
}
export function quietWindow(settleSeconds: number, log: (line: string) => void, after?: string): Promise<{ startLoad: LoadReading; end(): Promise<QuietReadings> }>;
export function loadMeta(
  readings: QuietReadings,
  settleSeconds: number,
  options?: { startImmediate?: boolean },
): {
  loadavg: number;
  loadavg_start: number;
  loadavg_end: number;
  loadavg_start_immediate?: number;
  loadavg_end_immediate: number;
  settle_s: number;
  verdict: { judged: boolean; reason: string | null };
  cpu_window: CpuWindowResult | null;
};
