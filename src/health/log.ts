export type { LoggerLike } from '../core/index.js';
