export const QUIET_LOAD: number;
export function loadAverage(): number;
export function settledLoad(settleSeconds: number, log?: (line: string) => void): Promise<{ load: number; immediate: number; waited_s: number }>;
export function judge(start: number, end: number, limit?: number): { judged: boolean; reason: string | null };
