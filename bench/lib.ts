/**
 * What the bench's processes share: the messages they exchange over IPC, the GraphQL documents,
 * and small helpers. The orchestrator (run.ts) forks the server (server.ts or floor.ts), the
 * receivers (receiver.ts) and the senders (sender.ts), each in its own process.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Which server a scenario measures: the plain `ws` floor, this product, or the Socket.IO + PostgreSQL peer. */
export type Target = 'floor' | 'graphql' | 'peer';

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export const SEND = `mutation BenchSend($input: SendMessageInput!) {
  sendMessage(input: $input) { __typename ... on Message { seq } ... on Error { code message } }
}`;

export const EVENTS = `subscription BenchEvents($id: ID!, $after: Int) {
  conversationEvents(conversationId: $id, after: $after) {
    type seq message { id seq body createdAt author { id displayName } }
  }
}`;

/** A message body carries when it was sent and by whom, so receivers measure latency. */
export function makeBody(sentAt: number, sender: number, n: number): string {
  return JSON.stringify({ t: sentAt, s: sender, n });
}

export function readBody(body: string): { t: number } | null {
  if (!body.startsWith('{')) return null;
  try {
    return JSON.parse(body) as { t: number };
  } catch {
    return null;
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Latencies kept in 0.1 ms buckets: constant memory for millions of deliveries. */
export class Histogram {
  private readonly buckets = new Map<number, number>();
  count = 0;
  max = 0;
  add(ms: number): void {
    const b = Math.max(0, Math.round(ms * 10));
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
    this.count++;
    if (ms > this.max) this.max = ms;
  }
  merge(other: Histogram): void {
    for (const [b, n] of other.buckets) this.buckets.set(b, (this.buckets.get(b) ?? 0) + n);
    this.count += other.count;
    this.max = Math.max(this.max, other.max);
  }
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (const b of [...this.buckets.keys()].sort((x, y) => x - y)) {
      seen += this.buckets.get(b)!;
      if (seen >= rank) return b / 10;
    }
    return this.max;
  }
  summary(): LatencySummary {
    return { count: this.count, p50: this.percentile(50), p99: this.percentile(99), max: this.max };
  }
  toJSON(): [number, number][] {
    return [...this.buckets];
  }
  static from(entries: [number, number][], max: number): Histogram {
    const h = new Histogram();
    for (const [b, n] of entries) {
      h.buckets.set(b, n);
      h.count += n;
    }
    h.max = max;
    return h;
  }
}

/** Messages from a receiver process. */
export type ReceiverReport =
  | { type: 'ready' }
  | { type: 'progress'; connected: number }
  | {
      type: 'report';
      delivered: number;
      /** Deliveries out of seq order or seen twice (must be 0). */
      disorder: number;
      firstAt: number;
      lastAt: number;
      histogram: [number, number][];
      max: number;
    }
  | { type: 'error'; message: string };

/** Commands to a receiver process. */
export type ReceiverCommand = { type: 'reset' } | { type: 'report' } | { type: 'stop' };

/** The one message a sender process sends when done. */
export interface SenderReport {
  type: 'done';
  ok: number;
  failed: number;
  firstError?: string;
  startedAt: number;
  endedAt: number;
  /** Send-to-response (persisted) latency. */
  histogram: [number, number][];
  max: number;
}

/**
 * Builds dist/ when sources changed (`scripts/start.mjs --build-only`): the bench's server runs
 * compiled, as `npm start` runs it, so a bench without this measures whatever was built last.
 */
export function buildServer(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'start.mjs'), '--build-only'], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build failed; see above');
}

/** Forks one of the bench's scripts with tsx, so it runs TypeScript like the server does. */
export function forkScript(name: string, args: string[], env: NodeJS.ProcessEnv = process.env, execArgv: string[] = []): ChildProcess {
  const file = fileURLToPath(new URL(`./${name}`, import.meta.url));
  return fork(file, args, {
    execArgv: ['--import', 'tsx', ...execArgv],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/**
 * The node flags package.json's "start" script runs the server with (--enable-source-maps, the
 * young generation's size): the benchmarks run the server with them too, as a user's `npm start` does.
 */
export function startFlags(): string[] {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const startScript = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  return startScript.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** Resolves with the first IPC message of a child that matches, or rejects if it exits first. */
export function waitFor<T>(child: ChildProcess, match: (msg: T) => boolean, timeoutMs = 120_000, what = 'a message'): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    const onMessage = (msg: T) => {
      if ((msg as { type?: string }).type === 'error') return done(new Error((msg as unknown as { message: string }).message));
      if (match(msg)) done(null, msg);
    };
    const onExit = (code: number | null) => done(new Error(`process exited (${code}) while waiting for ${what}`));
    function done(err: Error | null, msg?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(msg!);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** The server's event-loop delay since the last usage() call (started by the first). */
let loopDelay: IntervalHistogram | null = null;

/**
 * A server process's resource counters for one phase: CPU time (µs), on Linux the write system
 * calls it made (`syscw` of /proc/self/io: every write, writev and send, sockets and logs alike;
 * null elsewhere), and how late its event loop ran since the previous call (p99 and max, ms: a
 * stall of the server's own shows there, a wait on PostgreSQL, Redis or the CPU does not).
 */
export function usage(): { cpu: NodeJS.CpuUsage; writeCalls: number | null; loopDelay: { p99: number; max: number } } {
  let writeCalls: number | null = null;
  try {
    const match = /^syscw:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
    if (match) writeCalls = Number(match[1]);
  } catch {
    // Not Linux: no count.
  }
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
  }
  const delay = { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 };
  loopDelay.reset();
  return { cpu: process.cpuUsage(), writeCalls, loopDelay: delay };
}

export function log(...parts: unknown[]): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A scratch PostgreSQL database on the server of `base` (default DATABASE_URL), for one benchmark
 * run; null when there is none (the run then uses the embedded database).
 */
export async function scratchDatabase(prefix: string, base = process.env.DATABASE_URL): Promise<{ url: string; drop: () => Promise<void> } | null> {
  if (!base) return null;
  const { randomBytes } = await import('node:crypto');
  const { default: pg } = await import('pg');
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * Settings for the throughput benchmarks' servers: they measure how fast one client may go, so
 * the rate limits and connection caps made against abuse (README "Security") are raised far out
 * of the way, and production's required CORS origin is named. `bench/abuse.ts` keeps the defaults.
 */
export const BENCH_LIMITS: Record<string, string> = {
  CORS_ORIGINS: 'http://localhost:3000',
  // The benchmarks sign their users up and go on at once (no mailbox to confirm from).
  SIGNUP_CONFIRMATION: 'false',
  RATE_LIMIT_SIGNUP_EMAIL: '1000000/1',
  RATE_LIMIT_SEND_USER: '1000000/1',
  RATE_LIMIT_SEND_CONVERSATION: '1000000/1',
  RATE_LIMIT_MUTATIONS_USER: '1000000/1',
  RATE_LIMIT_HTTP_OPERATIONS: '1000000/1',
  RATE_LIMIT_LEGACY_ADDRESS: '1000000/1',
  RATE_LIMIT_LEGACY_IDENTITY: '1000000/1',
  RATE_LIMIT_SIGNUP_ADDRESS: '1000000/1',
  RATE_LIMIT_LOGIN_ADDRESS: '1000000/1',
  RATE_LIMIT_LOGIN_ACCOUNT: '1000000/1',
  RATE_LIMIT_GUEST_ADDRESS: '1000000/1',
  WS_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  WS_UPGRADES_PER_ADDRESS: '1000000/1',
  WS_MAX_CONNECTIONS_PER_USER: '1000000',
  WS_MAX_SUBSCRIPTIONS: '1000000',
  WS_MAX_OPERATIONS: '1000000/1',
  WS_MAX_OPERATIONS_PER_USER: '1000000/1',
};
