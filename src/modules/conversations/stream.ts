/**
 * A conversation's live stream with resume: subscribe to the channel first, then replay from the
 * database what came after the client's cursor, then go live. The stream has one order, the
 * conversation's positions (changes.ts): messages and changes to them (edits, deletes,
 * reactions, pins) delivered in position order with no gap and no duplicate:
 * - an event at or below the cursor is a duplicate (already replayed): dropped;
 * - one above cursor + 1 is early (a writer committed out of step, or an event was lost): held
 *   until the missing ones arrive, or read from the database after GAP_WAIT_MS. In steady state
 *   no subscriber reads the database, so fan-out stays O(1) queries per event.
 * Events without a position (READ, TYPING, MEMBER_*) pass straight through; they are not replayed.
 * The cursor: `afterPosition` (exact for every event), or `after`, a message seq (older clients):
 * the messages after it are replayed, and changes come live only, as before changes had a place
 * in the order.
 * The stream ends when the conversation is deleted, and fails with FORBIDDEN when the viewer is
 * removed from it.
 *
 * The ordering above runs in the staff numbering (positions, notes and changes to notes
 * included) for everyone, so holding, gap reads and duplicates work the same for every viewer.
 * A viewer reading the customer view (visibility.ts) gives `afterPosition` (and `after`) in the
 * customer numbering, which is turned into the staff position it stands for; what is yielded to
 * them leaves out notes and changes to notes, and is numbered in their numbering (publicPosition
 * for positions, publicSeq for seqs), which has no holes among what they can see.
 */
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError } from '../../graphql/errors.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { loadAccess } from './permissions.js';
import { messageSelect, toMessageRecord } from './records.js';
import { readStream, REPLAY_BATCH } from './replay.js';
import type { ConversationEvent } from './topics.js';
import type { WorkspaceEvent } from '../workspaces/topics.js';
import { customerEvent, PUBLIC_ONLY, publicSeqAtPosition, seesNotes, staffPositionOf } from './visibility.js';

export const GAP_WAIT_MS = 300;

type Next = IteratorResult<ConversationEvent> | 'timeout';

export function conversationStream(
  ctx: Context,
  rawId: string | number,
  after: StreamCursor,
): AsyncIterableIterator<ConversationEvent> {
  // A client that leaves ends its subscription at once, even in a quiet conversation.
  const stop = new AbortController();
  return returnsPromptly(events(ctx, rawId, after, stop.signal), stop);
}

/** Where a subscriber resumes: after a stream position, or after a message's seq; neither: from now. */
export interface StreamCursor {
  position?: number | null;
  seq?: number | null;
}

/**
 * What a stream keeps of the access check: three values, not the rows read for it. A generator's
 * locals live as long as it does (an idle subscription: for hours), so the rows (the
 * conversation's head, the membership) are read in this function, whose frame ends here.
 */
async function streamAccess(ctx: Context, rawId: string | number): Promise<{ conversationId: string; workspaceId: string; viaRole: boolean }> {
  const access = await loadAccess(ctx, rawId);
  return { conversationId: access.conversation.id, workspaceId: access.conversation.workspaceId, viaRole: access.viaRole };
}

async function* events(ctx: Context, rawId: string | number, from: StreamCursor, signal: AbortSignal): AsyncGenerator<ConversationEvent> {
  const { conversationId, workspaceId, viaRole } = await streamAccess(ctx, rawId);
  const me = actingUserId(ctx.viewer);
  const removable = !viaRole;
  // Staff who reach it by role lose it with their place in the workspace: watch for that too.
  const live = (
    viaRole && me
      ? ctx.pubsub.subscribeMany<'conversation' | 'workspace'>(
          [
            ['conversation', conversationId],
            ['workspace', workspaceId],
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
    // With `afterPosition`, everything after it is replayed. With `after` (a message seq, older
    // clients), the messages after it are replayed up to where the stream stands now and changes
    // go on live from there, as before changes had positions: a client that resumes by seq never
    // gets again a change it may already have seen. Both cursors are in the viewer's numbering.
    const customer = !seesNotes(ctx.viewer, workspaceId);
    let cursor: number;
    let replayFrom: number | null = null;
    let messagesAfterSeq: number | null = null;
    /** The customer view: the last customer seq given out (numbers events that carry none). */
    let lastPublic = 0;
    if (from.position != null && from.position <= 0) {
      cursor = 0;
      replayFrom = 0;
    } else if (from.position != null && customer) {
      // The customer's position stands for the staff position of the public entry it numbers.
      cursor = (await staffPositionOf(ctx.db, conversationId, from.position)) ?? (await lastPosition());
      replayFrom = cursor;
      lastPublic = await publicSeqAtPosition(ctx.db, conversationId, cursor);
    } else if (from.position != null) {
      cursor = from.position;
      replayFrom = cursor;
    } else {
      const row = await ctx.db.conversation.findUnique({ where: { id: conversationId }, select: { lastPosition: true, lastPublicSeq: true } });
      cursor = row?.lastPosition ?? 0;
      lastPublic = row?.lastPublicSeq ?? 0;
      if (from.seq != null) {
        messagesAfterSeq = Math.max(0, from.seq);
        if (customer) lastPublic = messagesAfterSeq;
      }
    }

    async function lastPosition(): Promise<number> {
      const row = await ctx.db.conversation.findUnique({ where: { id: conversationId }, select: { lastPosition: true } });
      return row?.lastPosition ?? 0;
    }

    /** What the viewer is given of an event: all of it (staff), or the customer view of it (or nothing). */
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

    const readFromDb = (after: number, before?: number) => readStream(ctx.db, conversationId, after, before);

    /** Delivers the held events that now follow the cursor without a gap. */
    function* deliverHeld(): Generator<ConversationEvent> {
      while (pending.has(cursor + 1)) {
        const held = pending.get(cursor + 1)!;
        pending.delete(cursor + 1);
        cursor = held.position!;
        yield* emit(held);
      }
    }

    /**
     * The replay by seq, in a function of its own (delegated to below) so that the rows it read
     * are not kept in this generator's frame for the rest of the stream's life.
     */
    async function* replayMessagesAfter(after: number): AsyncGenerator<ConversationEvent> {
      // Committed up to `cursor` (read after the channel was subscribed): later ones come live.
      // A customer's seq is a publicSeq: their public messages after it, in their numbering.
      for (let seq = after; ; ) {
        const rows = await ctx.db.message.findMany({
          where: customer
            ? { conversationId, ...PUBLIC_ONLY, publicSeq: { gt: seq }, position: { lte: cursor } }
            : { conversationId, seq: { gt: seq }, position: { lte: cursor } },
          orderBy: { seq: 'asc' },
          take: REPLAY_BATCH,
          select: messageSelect,
        });
        for (const row of rows) {
          const message = toMessageRecord(row);
          seq = customer ? message.publicSeq : message.seq;
          yield* emit({ type: 'MESSAGE_ADDED', conversationId, seq: message.seq, position: message.position, message, at: message.createdAt });
        }
        if (rows.length < REPLAY_BATCH) break;
      }
    }

    /** The replay by position; a function of its own for the same reason. */
    async function* replayAfter(position: number): AsyncGenerator<ConversationEvent> {
      for await (const event of readFromDb(position)) {
        cursor = event.position!;
        yield* emit(event);
      }
    }

    if (replayFrom !== null) yield* replayAfter(replayFrom);
    else if (messagesAfterSeq !== null) yield* replayMessagesAfter(messagesAfterSeq);
    // From here this instance's catch-up watches the conversation for us (catch-up.ts).
    ctx.pubsub.notePosition('conversation', conversationId, cursor);

    // A held event waits at most GAP_WAIT_MS, counted from when the stream began holding, not
    // from the last event: in a busy conversation live events arrive every few ms, and a wait
    // restarted by each of them would never end while the gap stayed open.
    let holdingSince = 0;
    for (;;) {
      nextLive ??= live.next();
      if (pending.size === 0) holdingSince = 0;
      else if (holdingSince === 0) holdingSince = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const next: Next = pending.size
        ? await Promise.race([
            nextLive,
            new Promise<'timeout'>((r) => {
              timer = setTimeout(() => r('timeout'), Math.max(0, holdingSince + GAP_WAIT_MS - Date.now()));
              timer.unref();
            }),
          ])
        : await nextLive;
      if (timer) clearTimeout(timer);

      if (next === 'timeout') {
        // What is missing did not arrive live (pub/sub lost it, or only this instance rang it
        // during a Redis outage, leaving gaps all along the way): read everything up to the last
        // held event in one go, every gap at once, rather than one gap per wait.
        let lastHeld = cursor;
        for (const position of pending.keys()) lastHeld = Math.max(lastHeld, position);
        for await (const event of readFromDb(cursor, lastHeld + 1)) {
          cursor = event.position!;
          pending.delete(cursor);
          yield* emit(event);
        }
        yield* deliverHeld();
        for (const position of [...pending.keys()]) if (position <= cursor) pending.delete(position);
        // Anything still held (not yet visible to this read) waits a full period again.
        holdingSince = Date.now();
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

      if (event.position != null) {
        if (event.position <= cursor) continue;
        if (event.position > cursor + 1) {
          pending.set(event.position, event);
          continue;
        }
        cursor = event.position;
        // The live path, once per event per subscriber: no generator objects when there is
        // nothing to transform (staff) or hold.
        if (customer) yield* emit(event);
        else yield event;
        if (pending.size > 0) yield* deliverHeld();
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
