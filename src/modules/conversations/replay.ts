/**
 * Reading a conversation's stream back from the database: messages and changes to them (edits,
 * deletes, reactions, pins), merged in position order (changes.ts), as the events the pipeline
 * published for them. One reader for everything that recovers what pub/sub did not deliver: a
 * subscriber's resume and its gap reads (stream.ts), and an instance's catch-up (catch-up.ts).
 */
import type { PrismaClient } from '../../generated/prisma/client.js';
import { changeSelect } from './changes.js';
import { messageSelect, toMessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';

/** Rows read per table per query. */
export const REPLAY_BATCH = 200;

/**
 * The stream's entries with positions in (`after`, `before`) (open above when `before` is
 * omitted), in staff positions, each with its public position when it has one (customers'
 * numbering: visibility.ts maps them). Reads in pages; stops at the first empty one.
 */
export async function* readStream(db: PrismaClient, conversationId: string, after: number, before?: number): AsyncGenerator<ConversationEvent> {
  for (let from = after; ; ) {
    const range = { gt: from, ...(before !== undefined ? { lt: before } : {}) };
    const [messages, changes] = await Promise.all([
      db.message.findMany({ where: { conversationId, position: range }, orderBy: { position: 'asc' }, take: REPLAY_BATCH, select: messageSelect }),
      db.conversationChange.findMany({ where: { conversationId, position: range }, orderBy: { position: 'asc' }, take: REPLAY_BATCH, select: changeSelect }),
    ]);
    // A full page may stop short of the other table's: deliver only up to where both are complete.
    let complete = Infinity;
    if (messages.length === REPLAY_BATCH) complete = Math.min(complete, messages.at(-1)!.position);
    if (changes.length === REPLAY_BATCH) complete = Math.min(complete, changes.at(-1)!.position);
    const merged: ConversationEvent[] = [
      ...messages.map((row): ConversationEvent => {
        const message = toMessageRecord(row);
        return {
          type: 'MESSAGE_ADDED',
          conversationId,
          seq: message.seq,
          position: message.position,
          ...(message.publicPosition != null ? { publicPosition: message.publicPosition } : {}),
          message,
          at: message.createdAt,
        };
      }),
      ...changes.map((c): ConversationEvent => {
        const message = toMessageRecord(c.message);
        return {
          type: c.type,
          conversationId,
          seq: message.seq,
          position: c.position,
          ...(c.publicPosition != null ? { publicPosition: c.publicPosition } : {}),
          message,
          ...(c.userId ? { userId: c.userId } : {}),
          ...(c.emoji ? { emoji: c.emoji } : {}),
          at: c.createdAt.toISOString(),
        };
      }),
    ].sort((a, b) => a.position! - b.position!);
    for (const event of merged) {
      if (event.position! > complete) break;
      from = event.position!;
      yield event;
    }
    if (complete === Infinity) return;
  }
}
