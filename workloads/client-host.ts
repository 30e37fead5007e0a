/**
 * The orchestrator's side of a workload client process (workloads/client-process.ts): spawn it, call
 * it with a deadline, write the ops it reports into the history, and kill it.
 *
 * Invariants:
 * - No client library code runs in this process: a client that never yields stalls only its own
 *   process, and every call on it is bounded here, on the orchestrator's timers.
 * - A call that gets no answer within its deadline kills the client (SIGKILL) and rejects with a
 *   `ClientKilledError` naming the client, the call and the deadline.
 * - When a client dies (killed on a deadline, crashed by the workload, or exited on its own), every op
 *   it had open (an invoke it reported without a completion) is completed in the history as `info`
 *   with an `error` naming the client and why; nothing it reports afterwards is written.
 * - An op a client reports is written with the time the client stamped on it (`process.hrtime`,
 *   the history writer's clock), so its latency is measured where it happened, not on arrival here.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HistoryRecorder } from '../harness/store/history-writer.ts';
import type { ClientSpec } from './client-process.ts';

export class ClientKilledError extends Error {
  readonly code = 'CLIENT_KILLED';
  constructor(message: string) {
    super(message);
    this.name = 'ClientKilledError';
  }
}

const entry = fileURLToPath(new URL('./client-process.ts', import.meta.url));
/** tsx, resolved from here, so a client process loads TypeScript whatever the working directory */
const tsxLoader = import.meta.resolve('tsx');

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

type OpenOp = { f: string; value: unknown };

/**
 * Every live client process: killed when the orchestrator exits by any path that runs 'exit' handlers
 * (a client spinning without yielding never sees its IPC channel close, so it would not exit by itself).
 */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** How long a spawned client may take to load before it is killed. */
export const CLIENT_START_TIMEOUT_MS = 30_000;

export class ClientHost {
  readonly spec: ClientSpec;
  readonly #child: ChildProcess;
  readonly #history: HistoryRecorder;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: string | null = null;
  #open: OpenOp | null = null;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  private constructor(spec: ClientSpec, history: HistoryRecorder, log: (msg: string) => void) {
    this.spec = spec;
    this.#history = history;
    this.#child = fork(entry, [JSON.stringify(spec)], {
      execArgv: ['--import', tsxLoader],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    live.add(this.#child);
    // A client process never keeps the orchestrator alive: calls keep it alive by their own timers,
    // and whatever is left at exit is killed by the 'exit' hook above.
    this.#child.unref();
    (this.#child.channel as { unref?: () => void } | undefined)?.unref?.();
    (this.#child.stderr as { unref?: () => void } | null)?.unref?.();
    let stderrTail = '';
    this.#child.stderr?.on('data', (d: Buffer) => {
      stderrTail = (stderrTail + d.toString()).slice(-2000);
    });
    let readyResolve: () => void = () => undefined;
    let readyReject: (e: Error) => void = () => undefined;
    this.ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.ready.catch(() => undefined);
    const startTimer = setTimeout(() => {
      this.kill(`did not start within ${CLIENT_START_TIMEOUT_MS} ms`);
    }, CLIENT_START_TIMEOUT_MS);
    this.#child.on('message', (m: any) => {
      if (this.#dead !== null) return;
      if (m.t === 'ready') {
        clearTimeout(startTimer);
        readyResolve();
      } else if (m.t === 'op') this.#record(m.op, BigInt(m.atNs));
      else if (m.t === 'log') log(m.msg);
      else if (m.t === 'reply') {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error));
      }
    });
    this.exited = new Promise<void>((resolve) => {
      this.#child.on('exit', (code, signal) => {
        live.delete(this.#child);
        clearTimeout(startTimer);
        const why = this.#dead ?? `exited (${signal ?? `code ${code}`})${stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`;
        this.#die(why);
        readyReject(new ClientKilledError(`client ${spec.name} ${why}`));
        resolve();
      });
    });
    this.#child.on('error', (err) => log(`client ${spec.name}: ${err.message}`));
  }

  /** Spawn a client process and wait (bounded) until it has loaded. */
  static async spawn(spec: ClientSpec, history: HistoryRecorder, log: (msg: string) => void): Promise<ClientHost> {
    const h = new ClientHost(spec, history, log);
    await h.ready;
    return h;
  }

  get alive(): boolean {
    return this.#dead === null;
  }

  get name(): string {
    return this.spec.name;
  }

  #record(op: { type: 'invoke' | 'ok' | 'fail' | 'info'; f: string; value: unknown }, atNs: bigint): void {
    if (op.type === 'invoke') this.#open = { f: op.f, value: op.value };
    else if (this.#open !== null && this.#open.f === op.f) this.#open = null;
    this.#history.append({ process: this.spec.process, type: op.type, f: op.f, value: op.value }, atNs);
  }

  /** Call a method of the client; kill the client when no answer comes within `timeoutMs`. */
  call<R>(method: string, args: unknown, timeoutMs: number): Promise<R> {
    if (this.#dead !== null) return Promise.reject(new ClientKilledError(`client ${this.spec.name} ${this.#dead}`));
    const id = this.#nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill(`killed: ${method} gave no answer within ${timeoutMs} ms`);
      }, Math.max(0, timeoutMs));
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      try {
        this.#child.send({ t: 'call', id, method, args });
      } catch (err) {
        this.kill(`unreachable: ${(err as Error).message}`);
      }
    });
  }

  /** Kill the client now (SIGKILL); its open op completes as info naming `why`. Idempotent. */
  kill(why: string): void {
    if (this.#dead !== null) return;
    this.#die(why);
    this.#child.kill('SIGKILL');
  }

  /** Ask the client to close (bounded), then make sure it is gone. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#dead === null) await this.call('close', null, timeoutMs).catch(() => undefined);
    this.kill('closed by the workload');
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))]);
    clearTimeout(t);
  }

  #die(why: string): void {
    if (this.#dead !== null) return;
    this.#dead = why;
    const open = this.#open;
    this.#open = null;
    if (open !== null) {
      const error = `CLIENT_KILLED: client ${this.spec.name} ${why}`;
      const value = open.value !== null && typeof open.value === 'object' ? { ...(open.value as object), error } : { error };
      this.#history.append({ process: this.spec.process, type: 'info', f: open.f, value });
    }
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ClientKilledError(`client ${this.spec.name} ${why}`));
    }
    this.#pending.clear();
  }
}
