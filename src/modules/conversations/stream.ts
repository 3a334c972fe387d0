/**
 * A conversation's live stream with resume: subscribe to the channel first, then replay from the
 * database what came after the client's cursor, then go live; message events are delivered in
 * seq order with no gap and no duplicate:
 * - a MESSAGE_ADDED at or below the cursor is a duplicate (already replayed): dropped;
 * - one above cursor + 1 is early (a sender committed out of step, or an event was lost): held
 *   until the missing ones arrive, or read from the database after GAP_WAIT_MS. In steady state
 *   no subscriber reads the database, so fan-out stays O(1) queries per message.
 * The stream ends when the conversation is deleted, and fails with FORBIDDEN when the viewer is
 * removed from it.
 *
 * The ordering above runs in the staff numbering (seq, notes included) for everyone. A viewer
 * reading the customer view (visibility.ts) gives `after` in the customer numbering, which is
 * turned into the staff seq it stands for; what is yielded to them leaves notes out and is
 * numbered by publicSeq, which has no holes among public messages.
 */
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError } from '../../graphql/errors.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { loadAccess } from './permissions.js';
import { messageSelect, toMessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';
import type { WorkspaceEvent } from '../workspaces/topics.js';
import { customerEvent, seesNotes, staffSeqOf } from './visibility.js';

export const GAP_WAIT_MS = 300;
const REPLAY_BATCH = 200;

type Next = IteratorResult<ConversationEvent> | 'timeout';

export function conversationStream(
  ctx: Context,
  rawId: string | number,
  after: number | null | undefined,
): AsyncIterableIterator<ConversationEvent> {
  // A client that leaves ends its subscription at once, even in a quiet conversation.
  const stop = new AbortController();
  return returnsPromptly(events(ctx, rawId, after, stop.signal), stop);
}

async function* events(
  ctx: Context,
  rawId: string | number,
  after: number | null | undefined,
  signal: AbortSignal,
): AsyncGenerator<ConversationEvent> {
  const access = await loadAccess(ctx, rawId);
  const conversationId = access.conversation.id;
  const me = actingUserId(ctx.viewer);
  const removable = !access.viaRole;
  // Staff who reach it by role lose it with their place in the workspace: watch for that too.
  const live = (
    access.viaRole && me
      ? ctx.pubsub.subscribeMany<'conversation' | 'workspace'>(
          [
            ['conversation', conversationId],
            ['workspace', access.conversation.workspaceId],
          ],
          { signal },
        )
      : ctx.pubsub.subscribe('conversation', conversationId, { signal })
  ) as AsyncIterableIterator<ConversationEvent>;
  const pending = new Map<number, ConversationEvent>();
  let nextLive: Promise<IteratorResult<ConversationEvent>> | null = live.next();

  try {
    // The channel is subscribed (live.next() above awaits the subscription); anything committed
    // from here on reaches us live, and anything before is in the database.
    const customer = !seesNotes(ctx.viewer, access.conversation.workspaceId);
    let cursor: number;
    /** The customer view: the last customer seq given out (numbers events that carry none). */
    let lastPublic = 0;
    if (after === null || after === undefined) {
      const row = await ctx.db.conversation.findUnique({ where: { id: conversationId }, select: { lastSeq: true, lastPublicSeq: true } });
      cursor = row?.lastSeq ?? access.conversation.lastSeq;
      lastPublic = row?.lastPublicSeq ?? 0;
    } else if (customer) {
      lastPublic = Math.max(0, after);
      cursor = await staffSeqOf(ctx.db, conversationId, lastPublic);
    } else {
      cursor = Math.max(0, after);
    }

    /** What the viewer is given of an event: all of it (staff), or the customer view of it. */
    function* emit(event: ConversationEvent): Generator<ConversationEvent> {
      if (!customer) {
        yield event;
        return;
      }
      const seen = customerEvent(event, lastPublic);
      if (!seen) return;
      if (seen.message && seen.type === 'MESSAGE_ADDED') lastPublic = Math.max(lastPublic, seen.seq);
      yield seen;
    }

    async function* readFromDb(from: number, upTo?: number): AsyncGenerator<ConversationEvent> {
      for (;;) {
        const rows = await ctx.db.message.findMany({
          where: { conversationId, seq: { gt: from, ...(upTo !== undefined ? { lt: upTo } : {}) } },
          orderBy: { seq: 'asc' },
          take: REPLAY_BATCH,
          select: messageSelect,
        });
        for (const row of rows) {
          const message = toMessageRecord(row);
          from = message.seq;
          yield { type: 'MESSAGE_ADDED', conversationId, seq: message.seq, message, at: message.createdAt };
        }
        if (rows.length < REPLAY_BATCH) return;
      }
    }

    /** Delivers the held events that now follow the cursor without a gap. */
    function* deliverHeld(): Generator<ConversationEvent> {
      while (pending.has(cursor + 1)) {
        const held = pending.get(cursor + 1)!;
        pending.delete(cursor + 1);
        cursor = held.seq;
        yield* emit(held);
      }
    }

    if (after !== null && after !== undefined) {
      for await (const event of readFromDb(cursor)) {
        cursor = event.seq;
        yield* emit(event);
      }
    }

    for (;;) {
      nextLive ??= live.next();
      const next: Next = pending.size
        ? await Promise.race([nextLive, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), GAP_WAIT_MS).unref())])
        : await nextLive;

      if (next === 'timeout') {
        // The missing messages did not arrive live: read them, then deliver what was held.
        const firstHeld = Math.min(...pending.keys());
        for await (const event of readFromDb(cursor, firstHeld)) {
          cursor = event.seq;
          yield* emit(event);
        }
        yield* deliverHeld();
        for (const seq of [...pending.keys()]) if (seq <= cursor) pending.delete(seq);
        continue;
      }
      nextLive = null;
      if (next.done) return;
      const event = next.value;
      const workspaceEvent = event as ConversationEvent | WorkspaceEvent;
      if (!('conversationId' in workspaceEvent)) {
        // Reached by role: losing the role (removed, or made a client) loses the conversation.
        if (endsStaffStanding(ctx.viewer, workspaceEvent)) {
          throw new ForbiddenError('You are no longer staff of this workspace; this conversation’s events stop here.');
        }
        continue;
      }

      if (event.type === 'MESSAGE_ADDED') {
        if (event.seq <= cursor) continue;
        if (event.seq > cursor + 1) {
          pending.set(event.seq, event);
          continue;
        }
        cursor = event.seq;
        yield* emit(event);
        yield* deliverHeld();
        continue;
      }
      if (event.type === 'MEMBER_LEFT' && removable && event.userId === me) {
        throw new ForbiddenError('You are no longer a member of this conversation; its events stop here.');
      }
      yield* emit(event);
      if (event.type === 'CONVERSATION_DELETED') return;
    }
  } finally {
    await live.return?.();
  }
}
