/**
 * The delivery worker, one per instance (unless WEBHOOK_WORKER=false); any number of instances
 * share the work through the database:
 *
 * - Claiming is one statement: due deliveries are picked `FOR UPDATE SKIP LOCKED` and leased
 *   (status IN_FLIGHT, a fresh leaseToken, leaseUntil = now + timeout + margin) in the same
 *   statement, so two instances never claim the same delivery. A lease that lapses (its
 *   instance died mid-attempt) makes the delivery due again: at least once, never lost.
 * - Order: a delivery is due only when no earlier delivery (lower sequence) of the same
 *   conversation to the same endpoint is still pending or in flight. So a conversation's events
 *   reach an endpoint one at a time, in order, across instances; a failing one holds back those
 *   behind it until it succeeds or is parked.
 * - The result is written only while the lease is ours (the leaseToken matches), with the
 *   attempt in the delivery log, in one transaction.
 * - Retries: the wait before attempt n+1 is min(WEBHOOK_RETRY_MAX_MS, WEBHOOK_RETRY_BASE_MS ×
 *   2^(n-1)), drawn between half and all of it (jitter, so endpoints coming back are not hit by
 *   every instance at once). After WEBHOOK_MAX_ATTEMPTS failures the delivery is PARKED.
 * - Bounded: at most WEBHOOK_CONCURRENCY attempts in flight per instance, each with a deadline
 *   (WEBHOOK_TIMEOUT_MS). Nothing in a request waits for any of it: requests only write rows.
 *
 * It looks for work every WEBHOOK_POLL_INTERVAL_MS (one indexed query), and at once after each
 * attempt and each redelivery or re-enabling. Not after each message: that would add a statement
 * to every send of every workspace, webhooks or not; an event waits one interval at most. Stop aborts attempts in flight (they are released to be sent
 * again) and waits for their bookkeeping; no timer or socket is left behind.
 */
import { randomUUID } from 'node:crypto';
import type { Services } from '../../graphql/context.js';
import { sendAttempt, type AttemptResult } from './deliver.js';
import { signatureHeaders } from './signature.js';

/** Beyond the attempt's own deadline, how long a lease lasts (the bookkeeping after it). */
const LEASE_MARGIN_MS = 30_000;
/** How often old events and their log are pruned, and how many go per statement. */
const PRUNE_INTERVAL_MS = 3_600_000;
const PRUNE_BATCH = 1000;

interface Claimed {
  id: string;
  eventId: string;
  endpointId: string;
  attempts: number;
  leaseToken: string;
}

export interface WebhookWorkerStats {
  claimed: number;
  succeeded: number;
  failed: number;
  parked: number;
}

declare module '../../graphql/context.js' {
  interface Services {
    /** This instance's webhook delivery worker (started by app.ts unless WEBHOOK_WORKER=false). */
    webhooks: WebhookWorker;
  }
}

/** The delivery worker of one app: idle (kick does nothing) until started. */
export class WebhookWorker {
  readonly stats: WebhookWorkerStats = { claimed: 0, succeeded: 0, failed: 0, parked: 0 };
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private pruning: Promise<unknown> | null = null;
  private polling: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();

  private services!: Services;
  private started = false;

  /** Starts polling and pruning, and looks for due deliveries at once; returns how to stop. */
  start(services: Services): () => Promise<void> {
    this.services = services;
    this.started = true;
    this.timer = setInterval(() => this.kick(), this.services.config.WEBHOOK_POLL_INTERVAL_MS);
    this.timer.unref();
    this.pruneTimer = setInterval(() => {
      this.pruning ??= this.prune()
        .catch((err: unknown) => this.services.logger.error({ err }, 'pruning webhook events failed'))
        .finally(() => (this.pruning = null));
    }, PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    this.kick();
    return () => this.stop();
  }

  /**
   * Deletes events older than WEBHOOK_RETENTION_DAYS with their deliveries and attempts (by
   * cascade), except those with a delivery still pending or in flight. Every worker runs it;
   * the deletes are idempotent. Returns how many events went.
   */
  async prune(): Promise<number> {
    const days = this.services.config.WEBHOOK_RETENTION_DAYS;
    let total = 0;
    for (;;) {
      const deleted = await this.services.db.$executeRaw`
        DELETE FROM "WebhookEvent" WHERE id IN (
          SELECT e.id FROM "WebhookEvent" e
          WHERE e."createdAt" < now() - ${days} * interval '1 day'
            AND NOT EXISTS (SELECT 1 FROM "WebhookDelivery" d WHERE d."eventId" = e.id AND d.status IN ('PENDING', 'IN_FLIGHT'))
          LIMIT ${PRUNE_BATCH})`;
      total += deleted;
      if (deleted < PRUNE_BATCH || this.stopped) return total;
    }
  }

  /** Looks for due deliveries now (coalesced with a look already running). */
  kick(): void {
    if (!this.started || this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = this.poll()
      // A database outage is logged once, where it opens and ends (observability/faults.ts).
      .catch((err: unknown) => (this.services.databaseHealth.classify(err) ? undefined : this.services.logger.error({ err }, 'webhook poll failed')))
      .finally(() => {
        this.polling = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async poll(): Promise<void> {
    const { config } = this.services;
    for (;;) {
      const room = config.WEBHOOK_CONCURRENCY - this.inFlight.size;
      if (this.stopped || room <= 0) return;
      const claimed = await this.claim(room);
      for (const delivery of claimed) this.track(this.attempt(delivery));
      if (claimed.length < room) return;
    }
  }

  private async claim(limit: number): Promise<Claimed[]> {
    const { db, config } = this.services;
    const leaseToken = randomUUID();
    const leaseMs = config.WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS;
    const rows = await db.$queryRaw<Array<Omit<Claimed, 'leaseToken'>>>`
      WITH due AS (
        SELECT d.id FROM "WebhookDelivery" d
        JOIN "WebhookEndpoint" e ON e.id = d."endpointId" AND e.enabled
        WHERE ((d.status = 'PENDING' AND d."nextAttemptAt" <= now()) OR (d.status = 'IN_FLIGHT' AND d."leaseUntil" < now()))
          AND NOT EXISTS (
            SELECT 1 FROM "WebhookDelivery" p
            WHERE p."endpointId" = d."endpointId" AND p."conversationId" = d."conversationId"
              AND p.sequence < d.sequence AND p.status IN ('PENDING', 'IN_FLIGHT'))
        ORDER BY d."nextAttemptAt", d.sequence
        LIMIT ${limit}
        FOR UPDATE OF d SKIP LOCKED
      )
      UPDATE "WebhookDelivery" d
      SET status = 'IN_FLIGHT', "leaseToken" = ${leaseToken}::uuid,
          "leaseUntil" = now() + ${leaseMs} * interval '1 millisecond', attempts = d.attempts + 1
      FROM due WHERE d.id = due.id
      RETURNING d.id, d."eventId", d."endpointId", d.attempts`;
    this.stats.claimed += rows.length;
    return rows.map((r) => ({ ...r, leaseToken }));
  }

  private async attempt(delivery: Claimed): Promise<void> {
    const { db, config, logger } = this.services;
    const [event, endpoint] = await Promise.all([
      db.webhookEvent.findUniqueOrThrow({ where: { id: delivery.eventId } }),
      db.webhookEndpoint.findUniqueOrThrow({ where: { id: delivery.endpointId }, select: { url: true, secret: true } }),
    ]);
    const body = JSON.stringify({
      id: event.id,
      type: event.type,
      createdAt: event.createdAt.toISOString(),
      workspaceId: event.workspaceId,
      conversationId: event.conversationId,
      sequence: event.sequence,
      data: event.payload,
    });
    const startedAt = new Date();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'chat-backend-webhooks/1',
      'webhook-id': event.id,
      'webhook-delivery': delivery.id,
      'webhook-event': event.type,
      'webhook-attempt': String(delivery.attempts),
      'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
      ...signatureHeaders(endpoint.secret, body, Math.floor(startedAt.getTime() / 1000)),
    };
    const result = await sendAttempt(endpoint.url, headers, body, {
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      policy: { allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK },
      signal: this.abort.signal,
    });
    const outcome = await this.record(delivery, startedAt, result, this.abort.signal.aborted);
    logger.debug({ deliveryId: delivery.id, eventType: event.type, attempt: delivery.attempts, outcome, status: result.statusCode, error: result.error }, 'webhook attempt');
  }

  /** Writes the attempt's outcome while the lease is still ours. */
  private async record(delivery: Claimed, startedAt: Date, result: AttemptResult, interrupted: boolean): Promise<string> {
    const { db, config } = this.services;
    const ok = result.error === null;
    let status: 'SUCCEEDED' | 'PENDING' | 'PARKED';
    let waitMs = 0;
    if (ok) status = 'SUCCEEDED';
    else if (interrupted) status = 'PENDING';
    else if (delivery.attempts >= config.WEBHOOK_MAX_ATTEMPTS) status = 'PARKED';
    else {
      status = 'PENDING';
      waitMs = retryDelay(delivery.attempts, config.WEBHOOK_RETRY_BASE_MS, config.WEBHOOK_RETRY_MAX_MS);
    }
    const written = await db.$transaction(async (tx) => {
      const count = await tx.$executeRaw`
        UPDATE "WebhookDelivery"
        SET status = ${status}::"WebhookDeliveryStatus", "leaseToken" = NULL, "leaseUntil" = NULL,
            "nextAttemptAt" = now() + ${waitMs} * interval '1 millisecond',
            "lastStatusCode" = ${result.statusCode}, "lastError" = ${result.error},
            "deliveredAt" = CASE WHEN ${ok} THEN now() ELSE "deliveredAt" END
        WHERE id = ${delivery.id}::uuid AND "leaseToken" = ${delivery.leaseToken}::uuid`;
      if (count === 0) return false;
      await tx.webhookAttempt.create({
        data: {
          deliveryId: delivery.id,
          number: delivery.attempts,
          startedAt,
          durationMs: result.durationMs,
          statusCode: result.statusCode,
          error: result.error,
          responseBody: result.responseBody,
          succeeded: ok,
        },
      });
      return true;
    });
    if (!written) return 'lease lost';
    if (ok) this.stats.succeeded++;
    else if (status === 'PARKED') this.stats.parked++;
    else this.stats.failed++;
    return status;
  }

  private track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((err: unknown) => this.services.logger.error({ err }, 'webhook delivery failed unexpectedly'))
      .finally(() => {
        this.inFlight.delete(tracked);
        // Room for another, and the next event of this conversation may now be due.
        this.kick();
      });
    this.inFlight.add(tracked);
  }

  /** Resolves once nothing is in flight and no look is running; for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0 || this.polling) await Promise.allSettled([...this.inFlight, this.polling]);
  }

  private async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.abort.abort();
    await this.settled();
    await this.pruning;
  }
}

/** Exponential backoff with jitter: between half and all of min(max, base × 2^(attempt-1)). */
export function retryDelay(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
