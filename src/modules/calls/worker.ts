/**
 * What keeps calls honest between requests, one per instance:
 *
 * - Ring timeouts. The deadline lives in the database (`Call.ringUntil`), not in a timer: the
 *   instance that starts a call arms a timer for it, and every instance sweeps the database every
 *   CALL_SWEEP_INTERVAL_MS, expiring what is past due and arming timers for what falls due before
 *   its next sweep. So a call still turns MISSED on time when the instance that started it
 *   restarts or dies; the conditional update lets exactly one instance win.
 * - Disconnects. When a user's last connection on this instance closes, and they have none on any
 *   other (presence's `connectedAmong`, src/modules/presence/tracker.ts), the call they are on
 *   ends for the other side (reason DISCONNECTED).
 *   The sweep catches what no close event reports (a crashed instance, a restart): a party on a
 *   line found connected nowhere on two sweeps in a row is dropped.
 *
 * The worker stops before the server closes its WebSockets, so a deploy's shutdown does not end
 * calls whose parties reconnect elsewhere; those who do not are dropped by the sweep.
 */
import type { Services } from '../../graphql/context.js';
import type { ConnectionInfo } from '../../realtime/connections.js';
import { dropParty, expireCall } from './lifecycle.js';

const SWEEP_BATCH = 500;

declare module '../../graphql/context.js' {
  interface Services {
    /** This instance's call worker: ring timers and disconnects (started by app.ts). */
    calls: CallWorker;
  }
}

/** The call worker of one app: idle until started (ring timers are then left to the sweeps of running instances). */
export class CallWorker {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  /** `<callId>:<userId>` of parties on a line found connected nowhere by the last sweep. */
  private absent = new Set<string>();
  private started = false;
  private stopped = false;
  private services!: Services;

  /**
   * Starts listening and sweeping; returns how to stop. The first sweep, which settles what passed
   * while no instance watched (ring deadlines during a restart), runs at once but does not hold up the start.
   */
  start(services: Services): () => Promise<void> {
    this.services = services;
    this.started = true;
    this.services.connections.on('closed', this.onClosed);
    void this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.services.config.CALL_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    return () => this.stop();
  }

  /** Turns the call MISSED at `ringUntil` unless something else settles it first (not started or stopped: the sweeps do). */
  arm(callId: string, ringUntil: string): void {
    if (!this.started || this.stopped || this.timers.has(callId)) return;
    const delay = Math.max(0, Date.parse(ringUntil) - Date.now()) + 5;
    const timer = setTimeout(() => {
      this.timers.delete(callId);
      this.track(expireCall(this.services, callId));
    }, delay);
    timer.unref();
    this.timers.set(callId, timer);
  }

  disarm(callId: string): void {
    const timer = this.timers.get(callId);
    if (timer) clearTimeout(timer);
    this.timers.delete(callId);
  }

  /** Resolves when the work started so far (timeouts, disconnect checks) has finished; for tests. */
  async settled(): Promise<void> {
    while (this.pending.size > 0 || this.sweeping) await Promise.allSettled([...this.pending, this.sweeping]);
  }

  private readonly onClosed = (info: ConnectionInfo, { remaining }: { remaining: number }): void => {
    const userId = info.userId;
    if (!userId || remaining > 0) return;
    this.track(this.partyLeft(userId));
  };

  /** The user's last connection here closed: if they hold a line and are connected nowhere, drop them. */
  private async partyLeft(userId: string): Promise<void> {
    // A retry covers the call changing state between the read and the end (answered meanwhile).
    for (let attempt = 0; attempt < 3; attempt++) {
      const line = await this.services.db.callParticipant.findUnique({
        where: { lineUserId: userId },
        select: { callId: true, call: { select: { status: true } } },
      });
      if (!line) return;
      const connected = await this.services.presence.connectedAmong([userId]);
      if (connected.has(userId)) return;
      if (await dropParty(this.services, line.callId, line.call.status, userId)) return;
    }
  }

  /** One pass; overlapping calls share it. */
  sweep(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.sweeping ??= this.sweepOnce()
      .catch((err: unknown) => (this.services.databaseHealth.classify(err) ? undefined : this.services.logger.error({ err }, 'call sweep failed')))
      .finally(() => {
        this.sweeping = null;
      });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const { db, config } = this.services;
    const now = Date.now();
    const horizon = new Date(now + config.CALL_SWEEP_INTERVAL_MS);
    let after: Date | undefined;
    for (;;) {
      const due = await db.call.findMany({
        where: { status: 'RINGING', ringUntil: { lte: horizon, ...(after ? { gt: after } : {}) } },
        select: { id: true, ringUntil: true },
        orderBy: { ringUntil: 'asc' },
        take: SWEEP_BATCH,
      });
      for (const call of due) {
        if (this.stopped) return;
        if (call.ringUntil.getTime() <= Date.now()) await expireCall(this.services, call.id);
        else this.arm(call.id, call.ringUntil.toISOString());
      }
      if (due.length < SWEEP_BATCH) break;
      after = due[due.length - 1]!.ringUntil;
    }

    const absentNow = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const lines = await db.callParticipant.findMany({
        where: { lineUserId: cursor ? { gt: cursor } : { not: null } },
        select: { callId: true, userId: true, lineUserId: true, call: { select: { status: true } } },
        orderBy: { lineUserId: 'asc' },
        take: SWEEP_BATCH,
      });
      if (lines.length === 0) break;
      const connected = await this.services.presence.connectedAmong(lines.map((l) => l.userId));
      for (const line of lines) {
        if (this.stopped) return;
        if (connected.has(line.userId)) continue;
        const key = `${line.callId}:${line.userId}`;
        if (this.absent.has(key)) await dropParty(this.services, line.callId, line.call.status, line.userId);
        else absentNow.add(key);
      }
      if (lines.length < SWEEP_BATCH) break;
      cursor = lines[lines.length - 1]!.lineUserId!;
    }
    this.absent = absentNow;
  }

  private track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      // During a Redis outage ("connected anywhere?" cannot be answered) its own line says it.
      .catch((err: unknown) =>
        this.services.presence.unavailable
          ? this.services.logger.debug({ err }, 'call worker task failed during a Redis outage; the sweep catches up')
          : this.services.logger.error({ err }, 'call worker task failed'),
      )
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Stops timers, listeners and sweeps, waits for work in flight. */
  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.services.connections.off('closed', this.onClosed);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.sweeping;
    await Promise.allSettled([...this.pending]);
  }
}
