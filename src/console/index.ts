export { consoleConcern } from './concern.js';
export type { BreakerLike, CheckView, ConsoleConcern, ConsoleSources, ConsoleStats, ConsoleTaps } from './concern.js';
export { CONSOLE_DEFAULTS, resolveConsole } from './options.js';
export type { ConsoleOptions, ResolvedConsoleOptions } from './options.js';
export type { DurationSeries, RedSource } from './red.js';
