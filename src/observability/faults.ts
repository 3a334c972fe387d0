/**
 * Faults of the dependencies, typed: an error that means "the database cannot be reached right
 * now" (refused, reset, shut down, pool exhausted) is an outage, not a bug. The client gets
 * SERVICE_UNAVAILABLE with `retryable: true` (HTTP 503) instead of "Unexpected error.", and the
 * operator gets one line when the outage begins and one when it ends (the database answering a
 * probe again), not one per failed request.
 */
import type { Logger } from 'pino';
import { ServiceUnavailableError } from '../graphql/errors.js';
import { OutageLog } from './outage.js';

/** Driver adapter error kinds (Prisma's) that mean the database is not reachable. */
const UNREACHABLE_KINDS = new Set(['DatabaseNotReachable', 'DatabaseDoesNotExist', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError']);
/** Prisma error codes for the same. */
const UNREACHABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Socket errors. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const MESSAGES = /Connection terminated|Can't reach database server|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed/i;

/**
 * Whether `err` (or what it wraps) says the database cannot be reached: class 08 (connection
 * exception) and 57P (operator intervention: shutdown, crash, cannot connect now) of
 * PostgreSQL's SQLSTATEs, Prisma's reachability codes, and socket errors.
 */
export function isDatabaseOutage(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift() as Record<string, unknown> | null | undefined;
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const code = typeof e.code === 'string' ? e.code : undefined;
    const originalCode = typeof e.originalCode === 'string' ? e.originalCode : undefined;
    if (code && (UNREACHABLE_PRISMA.has(code) || SOCKET_CODES.has(code))) return true;
    for (const c of [code, originalCode]) if (c && (/^08/.test(c) || /^57P0[123]$/.test(c))) return true;
    if (typeof e.kind === 'string' && UNREACHABLE_KINDS.has(e.kind)) return true;
    if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true;
    queue.push(e.cause, (e.meta as Record<string, unknown> | undefined)?.driverAdapterError, e.originalError);
  }
  return false;
}

/**
 * Where the database stands, from the errors requests meet and a probe while it is down. One
 * per app.
 */
export class DatabaseHealth {
  readonly outage: OutageLog;
  private probing: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    logger: Logger,
    private readonly ping: () => Promise<void>,
    private readonly probeIntervalMs = 250,
    /** How long the database must keep answering before the outage is declared over. */
    private readonly stableMs = 1000,
  ) {
    this.outage = new OutageLog(logger.child({ component: 'database' }), 'database');
    this.outage.ended();
  }

  get up(): boolean {
    return !this.outage.down;
  }

  /**
   * If `err` is an outage: records it (opening the outage once), starts probing until the
   * database answers, and returns the typed error to give the client; otherwise null.
   */
  classify(err: unknown): ServiceUnavailableError | null {
    if (err instanceof ServiceUnavailableError) return err;
    if (!isDatabaseOutage(err)) return null;
    this.outage.began(describe(err), err);
    this.probe();
    return new ServiceUnavailableError('database');
  }

  /**
   * Probes until the database has answered for {@link DatabaseHealth.stableMs} in a row: a
   * pooled connection that a shutting-down server has not terminated yet may answer once, and
   * that must not end the outage only for the next request to open another.
   */
  private probe(): void {
    if (this.probing || this.stopped) return;
    let answeringSince: number | null = null;
    this.probing = setInterval(() => {
      this.ping().then(
        () => {
          answeringSince ??= Date.now();
          if (Date.now() - answeringSince < this.stableMs || !this.probing) return;
          clearInterval(this.probing);
          this.probing = null;
          this.outage.ended();
        },
        () => {
          answeringSince = null;
        },
      );
    }, this.probeIntervalMs);
    this.probing.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.probing) clearInterval(this.probing);
    this.probing = null;
  }
}

function describe(err: unknown): string {
  const cause = (err as { meta?: { driverAdapterError?: { cause?: Record<string, unknown> } } })?.meta?.driverAdapterError?.cause;
  if (cause) return String(cause.originalMessage ?? cause.message ?? cause.kind);
  return (err as Error)?.message?.split('\n').filter(Boolean).pop() ?? String(err);
}
