// on-exit-leak-free ships no types; this is the part periscope uses.
declare module 'on-exit-leak-free' {
  /** Calls `fn(obj, event)` on process 'exit', for as long as `obj` is alive (held weakly). */
  export function register<T extends object>(obj: T, fn: (obj: T, event: 'exit') => void): void;
  export function unregister(obj: object): void;
}
