/**
 * No silent gap. Pub/sub is a doorbell that may not ring: Redis down, an event published while
 * another instance was still resubscribing, a publish this instance did not send because Redis was
 * unavailable. A subscriber's socket stays open through all of that, so nothing tells it it
 * missed a message until the next one arrives, which may be never.
 *
 * Each instance therefore compares, for every conversation it has live subscribers on, the
 * stream position it delivered (pub/sub keeps the highest position per channel) with the
 * database's `lastPosition`, and delivers what is missing (messages and changes to them alike,
 * read by replay.ts) to all its local subscribers at once, as if pub/sub had rung it:
 * - when Redis comes back and this instance's subscriptions are confirmed again (`reconnect`);
 * - every CATCH_UP_INTERVAL_MS (`periodic`): one query for all the conversations it serves,
 *   plus one read per conversation that is behind; never one per subscriber.
 * A gap below that position (an event whose position jumps) is read by the stream itself
 * (stream.ts). Streams drop what they already have by position, so a catch-up can never
 * duplicate anything.
 */
import type { Services } from '../../graphql/context.js';
import { readStream } from './replay.js';
import type { ConversationEvent } from './topics.js';

/** Conversations compared per query. */
const CHUNK = 500;

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
    pubsub.trackPositions('conversation', (event: ConversationEvent) => event.position ?? undefined);
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
      const heads = await db.conversation.findMany({ where: { id: { in: [...chunk.keys()] } }, select: { id: true, lastPosition: true } });
      for (const { id, lastPosition } of heads) {
        const from = pubsub.localPositions('conversation').get(id) ?? -1;
        if (from < 0 || lastPosition <= from) continue;
        const behind = lastPosition - from;
        let read = 0;
        // With their stream positions, as the pipeline publishes them: streams order and drop
        // duplicates by position (stream.ts), so nothing caught up is ever delivered twice.
        for await (const event of readStream(db, id, from, lastPosition + 1)) {
          if (this.stopped) break;
          pubsub.deliverLocally('conversation', id, event);
          read++;
        }
        metrics.caughtUpMessages.inc(read);
        logger.info({ conversationId: id, reason, behind, upTo: lastPosition }, 'caught up from the database what pub/sub missed');
      }
    }
  }
}
