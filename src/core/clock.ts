/**
 * Node defines the global `performance` as a lazy accessor, and it stays one: every read of the
 * global calls its getter through V8's global-load inline cache, about 150 instructions under
 * callgrind, twice a request (start and end), more with other concerns reading the clock. Once
 * periscope is set up, the global is redefined as a plain writable property holding the same
 * object, which is what an assignment to it does anyway (Node's setter keeps the value it is
 * given): reads become a constant load, and a test's fake clock that replaces the global
 * (`vi.useFakeTimers`) is still seen by every read. Left alone when it is not Node's
 * configurable accessor.
 */
export function settlePerformanceGlobal(): void {
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'performance');
  // Node's own: configurable, with a getter and a setter that keeps what it is given. A getter
  // from elsewhere (a DOM test environment's read-only one, a polyfill) is left as it is.
  if (descriptor === undefined || descriptor.get === undefined || descriptor.set === undefined || descriptor.configurable !== true) return;
  if (descriptor.get.name !== 'get performance') return;
  Object.defineProperty(globalThis, 'performance', {
    value: globalThis.performance,
    writable: true,
    configurable: true,
    enumerable: descriptor.enumerable === true,
  });
}
