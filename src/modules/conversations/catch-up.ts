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
import { runInBackground } from '../../background.js';
import type { Services } from '../../graphql/context.js';
import { messageSelect, toMessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';

/** Conversations compared per query. */
const CHUNK = 500;
/** Messages read per query when a conversation is behind. */
const BATCH = 500;

export interface CatchUp {
  /** Compares every served conversation with the database now; resolves when done. */
  run(reason: 'reconnect' | 'periodic'): Promise<void>;
  stop(): void;
}

const byPubSub = new WeakMap<object, CatchUp>();

/** The catch-up of the app whose pub/sub this is (tests drive it directly). */
export function catchUpOf(services: Services): CatchUp | undefined {
  return byPubSub.get(services.pubsub.stats);
}

export function startCatchUp(services: Services): CatchUp {
  const { pubsub, db, metrics } = services;
  const logger = services.logger.child({ component: 'catch-up' });
  pubsub.trackPositions('conversation', (event: ConversationEvent) => (event.type === 'MESSAGE_ADDED' ? event.seq : undefined));
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const round = async (reason: 'reconnect' | 'periodic') => {
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
        while (from < lastSeq && !stopped) {
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
  };

  const run = (reason: 'reconnect' | 'periodic'): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await round(reason);
        } while (again && !stopped);
      } catch (err) {
        // The database is down too: the next round (or reconnect) tries again.
        logger.debug({ err, reason }, 'catch-up failed; will try again');
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const offResubscribed = pubsub.onResubscribed(() => void run('reconnect'));
  // In memory nothing can be missed: events are emitted synchronously in this process.
  const timer = pubsub.kind === 'redis' ? setInterval(() => void run('periodic'), services.config.CATCH_UP_INTERVAL_MS) : null;
  timer?.unref();
  const catchUp: CatchUp = {
    run,
    stop: () => {
      stopped = true;
      offResubscribed();
      if (timer) clearInterval(timer);
    },
  };
  byPubSub.set(pubsub.stats, catchUp);
  return catchUp;
}

runInBackground((services) => {
  const catchUp = startCatchUp(services);
  return () => catchUp.stop();
});
