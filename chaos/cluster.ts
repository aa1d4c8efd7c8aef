/**
 * The chaos cluster's role processes: each a `noon start <role>` child in a slot (role and index)
 * that keeps its fixed ports across restarts (Yellows and the BrokerList are configured by
 * address). A child that exits when the tool did not ask is a crash: recorded, then started again
 * in its slot, as a supervisor would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { ClusterRole } from './scenarios';
import type { Crash } from './tally';

export interface Slot {
  role: ClusterRole;
  index: number;
  /** options of this slot only (a Yellow's or the BrokerList's port, its host's address) */
  env: Record<string, string>;
  /** a command prefix that runs the process on its host (`ip netns exec <ns>`); none on loopback */
  wrap?: string[];
}

export const slotName = (s: Slot): string => `${s.role}#${s.index}`;

export class RoleProc {
  readonly proc: ChildProcess;
  readonly exited: Promise<string>;
  ready: Record<string, unknown> = {};
  /** set before the tool signals it to end: its exit is then not a crash */
  expectedExit = false;
  private readonly log: WriteStream;

  constructor(
    readonly slot: Slot,
    root: string,
    env: Record<string, string>,
    logFile: string,
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    const [command, ...args] = [
      ...(slot.wrap ?? []),
      process.execPath,
      join(root, 'bin', 'noon.js'),
      'start',
      slot.role,
    ];
    this.proc = spawn(command!, args, {
      cwd: root,
      env: { ...process.env, ...env, ...slot.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stderr?.pipe(this.log, { end: false });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        this.log.end();
        resolve(signal !== null ? signal : `exit ${code}`);
      }),
    );
  }

  get name(): string {
    return slotName(this.slot);
  }

  get instanceId(): string {
    return String(this.ready.instanceId ?? '');
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the ready line; rejects if the child exits or stays silent past the deadline. */
  waitReady(deadlineMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no ready line within ${deadlineMs} ms`)),
        deadlineMs,
      );
      void this.exited.then((how) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${how}) before its ready line`));
      });
      this.proc.stdout?.setEncoding('utf8');
      this.proc.stdout?.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const line of lines) {
          this.log.write(`${line}\n`);
          if (!line.startsWith('{"ready"')) continue;
          this.ready = JSON.parse(line) as Record<string, unknown>;
          clearTimeout(timer);
          resolve(this.ready);
        }
      });
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(sig);
  }
}

export class ChaosCluster {
  readonly crashes: Crash[] = [];
  private readonly procs = new Map<string, RoleProc>();
  private starts = 0;
  private closing = false;

  constructor(
    private readonly root: string,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly say: (line: string) => void,
  ) {}

  /** Starts (or restarts) the slot's process and waits for its ready line. */
  async start(slot: Slot, deadlineMs = 120_000): Promise<RoleProc> {
    const file = join(this.logDir, `${slot.role}-${slot.index}-${++this.starts}.log`);
    const p = new RoleProc(slot, this.root, this.env, file);
    this.procs.set(slotName(slot), p);
    void p.exited.then((how) => this.onExit(p, how));
    await p.waitReady(deadlineMs);
    return p;
  }

  /** The current process of each slot of `role`. */
  of(role: ClusterRole): RoleProc[] {
    return [...this.procs.values()].filter((p) => p.slot.role === role);
  }

  all(): RoleProc[] {
    return [...this.procs.values()];
  }

  /** Signals the process to end (not a crash) and waits for it; returns how it exited. */
  async stop(p: RoleProc, sig: NodeJS.Signals, deadlineMs = 30_000): Promise<string> {
    p.expectedExit = true;
    p.signal(sig);
    const t = setTimeout(() => p.signal('SIGKILL'), deadlineMs);
    const how = await p.exited;
    clearTimeout(t);
    return how;
  }

  /** Ends every process: SIGTERM, SIGKILL after the deadline. */
  async close(deadlineMs = 20_000): Promise<void> {
    this.closing = true;
    await Promise.all(this.all().map((p) => this.stop(p, 'SIGTERM', deadlineMs)));
  }

  private onExit(p: RoleProc, how: string): void {
    if (p.expectedExit || this.closing) return;
    this.crashes.push({ name: p.name, at: Date.now(), exit: how });
    this.say(`  crash: ${p.name} (${p.instanceId}) exited unasked: ${how}; starting it again`);
    if (this.procs.get(slotName(p.slot)) === p)
      this.start(p.slot).catch((err: Error) => this.say(`  could not restart ${p.name}: ${err.message}`));
  }
}
