import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

/**
 * A child process whose stdout is read to its end, for as long as the child runs.
 *
 * Reading only up to a banner (a `break` out of `for await (... of child.stdout)`, which
 * destroys the stream) closes the read end of the pipe while the child still runs: its next
 * log line then fails with EPIPE, and periscope, rightly, reports a failed log destination
 * (a warning on stderr and `periscope_internal_errors_total{where="log-destination"}`). A
 * reader that goes away while a service still logs is a real failure in production; in a
 * test it was the harness hanging up early, so the harness is what keeps reading.
 */
export class RunningChild {
  readonly process: ChildProcess;
  /** Everything the child wrote to stdout so far. */
  stdout = '';
  /** Everything the child wrote to stderr so far (warnings included). */
  stderr = '';
  readonly #closed: Promise<void>;
  #waiters: { test: (out: string) => boolean; resolve: (out: string) => void }[] = [];

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.process = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const { stdout, stderr } = this.process;
    stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    stdout!.setEncoding('utf8');
    stdout!.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(this.stdout)) return true;
        w.resolve(this.stdout);
        return false;
      });
    });
    // 'close' comes after 'exit', once stdout has been read to its end.
    this.#closed = new Promise<void>((resolve) => this.process.once('close', () => resolve()));
  }

  /** Resolves with stdout once it contains `text`; rejects if the child ends first. */
  until(text: string): Promise<string> {
    if (this.stdout.includes(text)) return Promise.resolve(this.stdout);
    return new Promise<string>((resolve, reject) => {
      this.#waiters.push({ test: (out) => out.includes(text), resolve });
      void this.#closed.then(() => reject(new Error(`child ended (code ${this.process.exitCode}, signal ${this.process.signalCode}) before printing ${JSON.stringify(text)}; stdout: ${this.stdout}; stderr: ${this.stderr}`)));
    });
  }

  /** Sends `signal` unless the child already ended, and resolves once it has exited and its stdout is read to the end. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    await this.#closed;
  }
}
