/**
 * No silent gap. Pub/sub is a doorbell that may not ring: Redis down, an event published while
 * another instance was still resubscribing, a publish this instance did not send because Redis was
 * unavailable. A subscriber's socket stays open through all of that, so nothing tells it it
 * missed a message until the next one arrives, which may be never.
 *
 * Each instance therefore compares, for every conversation it has live subscribers on, the
 * position it delivered (pub/sub keeps the highest seq per channel) with the database's `lastSeq`,
 * and delivers what is missing to all its local subscribers at once, as if pub/sub had rung it:
 * - when Redis comes back and this instance's subscriptions are confirmed again (`reconnect`);
 * - every CATCH_UP_INTERVAL_MS (`periodic`): one query for all the conversations it serves,
 *   plus one read per conversation that is behind; never one per subscriber.
 * A gap seen in a stream (an event whose seq jumps) is read by the stream itself (stream.ts).
 * Streams drop what they already have by seq, so a catch-up can never duplicate a message.
 */
import type { Services } from '../../graphql/context.js';
import { messageSelect, toMessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';

/** Conversations compared per query. */
const CHUNK = 500;
/** Messages read per query when a conversation is behind. */
const BATCH = 500;

declare module '../../graphql/context.js' {
  interface Services {
    /** Delivers from the database what pub/sub missed (started and stopped by app.ts). */
    catchUp: CatchUp;
  }
}

/** The catch-up of one app: idle until started; `run` is there for tests to drive it. */
export class CatchUp {
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private services: Services | null = null;

  /**
   * Tracks the positions delivered and runs on every resubscription and, with Redis, every
   * CATCH_UP_INTERVAL_MS; returns how to stop.
   */
  start(services: Services): () => void {
    this.services = services;
    const { pubsub } = services;
    pubsub.trackPositions('conversation', (event: ConversationEvent) => (event.type === 'MESSAGE_ADDED' ? event.seq : undefined));
    const offResubscribed = pubsub.onResubscribed(() => void this.run('reconnect'));
    // In memory nothing can be missed: events are emitted synchronously in this process.
    const timer = pubsub.kind === 'redis' ? setInterval(() => void this.run('periodic'), services.config.CATCH_UP_INTERVAL_MS) : null;
    timer?.unref();
    return () => {
      this.stopped = true;
      offResubscribed();
      if (timer) clearInterval(timer);
    };
  }

  /** Compares every served conversation with the database now; resolves when done. */
  run(reason: 'reconnect' | 'periodic'): Promise<void> {
    const services = this.services;
    if (!services) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const logger = services.logger.child({ component: 'catch-up' });
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.round(services, logger, reason);
        } while (this.again && !this.stopped);
      } catch (err) {
        // The database is down too: the next round (or reconnect) tries again.
        logger.debug({ err, reason }, 'catch-up failed; will try again');
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async round(services: Services, logger: Services['logger'], reason: 'reconnect' | 'periodic'): Promise<void> {
    const { pubsub, db, metrics } = services;
    const served = [...pubsub.localPositions('conversation')].filter(([, seen]) => seen >= 0);
    if (served.length === 0) return;
    metrics.catchUps.inc({ reason });
    for (let i = 0; i < served.length; i += CHUNK) {
      const chunk = new Map(served.slice(i, i + CHUNK));
      const heads = await db.conversation.findMany({ where: { id: { in: [...chunk.keys()] } }, select: { id: true, lastSeq: true } });
      for (const { id, lastSeq } of heads) {
        let from = pubsub.localPositions('conversation').get(id) ?? -1;
        if (from < 0 || lastSeq <= from) continue;
        const behind = lastSeq - from;
        while (from < lastSeq && !this.stopped) {
          const rows = await db.message.findMany({
            where: { conversationId: id, seq: { gt: from, lte: lastSeq } },
            orderBy: { seq: 'asc' },
            take: BATCH,
            select: messageSelect,
          });
          if (rows.length === 0) break;
          for (const row of rows) {
            const message = toMessageRecord(row);
            from = message.seq;
            // With its stream positions, as the pipeline publishes it: streams order and drop
            // duplicates by position (stream.ts), so a caught-up message is never delivered twice.
            pubsub.deliverLocally('conversation', id, {
              type: 'MESSAGE_ADDED',
              conversationId: id,
              seq: message.seq,
              position: message.position,
              ...(message.publicPosition != null ? { publicPosition: message.publicPosition } : {}),
              message,
              at: message.createdAt,
            });
          }
          metrics.caughtUpMessages.inc(rows.length);
          // Another event may have raised the position meanwhile.
          from = Math.max(from, pubsub.localPositions('conversation').get(id) ?? from);
        }
        logger.info({ conversationId: id, reason, behind, upTo: lastSeq }, 'caught up from the database what pub/sub missed');
      }
    }
  }
}
