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
 *
 * The stream pushes (src/pubsub/push.ts): once it is live, each event goes from the pub/sub
 * handler through the ordering below to its consumer in the same call, with no promise per event;
 * what must wait (the start, a replay, a gap's read) pauses the live events meanwhile, and they
 * follow in order once it is done. A consumer that pulls (next()) gets the same events.
 */
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError } from '../../graphql/errors.js';
import { forgetAuthorization } from '../../graphql/request-cache.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import type { Listening } from '../../pubsub/pubsub.js';
import { Outlet } from '../../pubsub/push.js';
import { loadAccess } from './permissions.js';
import { messageSelect, toMessageRecord } from './records.js';
import { readStream, REPLAY_BATCH } from './replay.js';
import type { ConversationEvent } from './topics.js';
import type { WorkspaceEvent } from '../workspaces/topics.js';
import { customerEvent, PUBLIC_ONLY, publicSeqAtPosition, seesNotes, staffPositionOf } from './visibility.js';

export const GAP_WAIT_MS = 300;

export function conversationStream(ctx: Context, rawId: string | number, after: StreamCursor): AsyncIterableIterator<ConversationEvent> {
  return new ConversationStream(ctx, rawId, after);
}

/** Where a subscriber resumes: after a stream position, or after a message's seq; neither: from now. */
export interface StreamCursor {
  position?: number | null;
  seq?: number | null;
}

/**
 * One subscriber's stream of a conversation (see the module's comment). A class: one lives per
 * idle subscription, so its state is its fields and its methods are shared. It keeps three
 * values of the access check, not the rows read for it.
 */
class ConversationStream extends Outlet<ConversationEvent> {
  private live: Listening | null = null;
  private conversationId = '';
  /** Whether the viewer leaves the stream when removed from the conversation (a member, not staff by role). */
  private removable = false;
  private me: string | null = null;
  /** The viewer reads the customer view (visibility.ts). */
  private customer = false;
  /** The last position delivered (in the staff numbering). */
  private cursor = 0;
  /** The customer view: the last customer seq given out (numbers events that carry none). */
  private lastPublic = 0;
  /** Events that came early (after a gap), by position. */
  private pending: Map<number, ConversationEvent> | null = null;
  /** When the stream began holding early events (0: it holds none). */
  private holdingSince = 0;
  private gapTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: Context,
    rawId: string | number,
    from: StreamCursor,
  ) {
    super();
    this.start(rawId, from).catch((err: unknown) => this.close(err));
  }

  protected hold(): void {
    this.live?.pause();
  }

  protected release(): void {
    this.live?.resume();
  }

  protected stop(): void {
    this.live?.close();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  /**
   * Subscribes, then replays from the database what came after the client's cursor, then goes
   * live. Live events that come meanwhile wait (paused) and follow the replay, duplicates
   * dropped by the cursor. With `afterPosition`, everything after it is replayed. With `after` (a
   * message seq, older clients), the messages after it are replayed up to where the stream stands
   * now and changes go on live from there, as before changes had positions: a client that
   * resumes by seq never gets again a change it may already have seen. Both cursors are in the
   * viewer's numbering.
   */
  private async start(rawId: string | number, from: StreamCursor): Promise<void> {
    const { ctx } = this;
    const access = await loadAccess(ctx, rawId);
    if (this.over) return;
    const conversationId = (this.conversationId = access.conversation.id);
    const workspaceId = access.conversation.workspaceId;
    const me = (this.me = actingUserId(ctx.viewer));
    this.removable = !access.viaRole;
    // The staff view (notes, and the staff numbering) is decided here, once.
    const customer = (this.customer = !seesNotes(ctx.viewer, workspaceId));
    // Staff lose it with their place in the workspace: those who reach it by role lose the
    // conversation, and members who see it as staff lose that view (it has notes and its own
    // numbering), so they watch the workspace's events too.
    const live = (this.live = ctx.pubsub.listen<'conversation' | 'workspace'>(
      me && (access.viaRole || !customer)
        ? [
            ['conversation', conversationId],
            ['workspace', workspaceId],
          ]
        : [['conversation', conversationId]],
      { event: (event) => this.onLive(event as ConversationEvent | WorkspaceEvent), end: (error) => this.close(error) },
    ));
    live.pause();
    // From here nothing published is missed: anything committed before is in the database.
    await live.ready;
    if (this.over) return;
    if (from.position != null && from.position <= 0) {
      await this.replayAfter(0);
    } else if (from.position != null) {
      let after = from.position;
      if (customer) {
        // The customer's position stands for the staff position of the public entry it numbers.
        after = (await staffPositionOf(ctx.db, conversationId, from.position)) ?? (await this.readHead()).lastPosition;
        this.lastPublic = await publicSeqAtPosition(ctx.db, conversationId, after);
      }
      this.cursor = after;
      await this.replayAfter(after);
    } else {
      const head = await this.readHead();
      this.cursor = head.lastPosition;
      this.lastPublic = head.lastPublicSeq;
      if (from.seq != null) {
        const afterSeq = Math.max(0, from.seq);
        if (customer) this.lastPublic = afterSeq;
        await this.replayMessagesAfter(afterSeq);
      }
    }
    if (this.over) return;
    // From here this instance's catch-up watches the conversation for us (catch-up.ts).
    ctx.pubsub.notePosition('conversation', conversationId, this.cursor);
    // What authorizing the subscription loaded and decided (scope-auth's cache, ~1.7 KB) is not
    // read again: the stream checks each event itself. Not kept for the stream's life.
    forgetAuthorization(ctx);
    live.resume();
  }

  private async readHead(): Promise<{ lastPosition: number; lastPublicSeq: number }> {
    const row = await this.ctx.db.conversation.findUnique({
      where: { id: this.conversationId },
      select: { lastPosition: true, lastPublicSeq: true },
    });
    return { lastPosition: row?.lastPosition ?? 0, lastPublicSeq: row?.lastPublicSeq ?? 0 };
  }

  /** The replay by position: everything after it, read in batches as the consumer takes them. */
  private async replayAfter(position: number): Promise<void> {
    for await (const event of readStream(this.ctx.db, this.conversationId, position)) {
      if (this.over) return;
      this.cursor = event.position!;
      this.emitFor(event);
      if (this.queued >= REPLAY_BATCH) await this.taken();
    }
  }

  /**
   * The replay by seq: the messages after it committed up to `cursor` (read after the channel
   * was subscribed: later ones come live). A customer's seq is a publicSeq: their public
   * messages after it, in their numbering.
   */
  private async replayMessagesAfter(after: number): Promise<void> {
    const { ctx, conversationId, customer, cursor } = this;
    for (let seq = after; ; ) {
      const rows = await ctx.db.message.findMany({
        where: customer
          ? { conversationId, ...PUBLIC_ONLY, publicSeq: { gt: seq }, position: { lte: cursor } }
          : { conversationId, seq: { gt: seq }, position: { lte: cursor } },
        orderBy: { seq: 'asc' },
        take: REPLAY_BATCH,
        select: messageSelect,
      });
      if (this.over) return;
      for (const row of rows) {
        const message = toMessageRecord(row);
        seq = customer ? message.publicSeq : message.seq;
        this.emitFor({ type: 'MESSAGE_ADDED', conversationId, seq: message.seq, position: message.position, message, at: message.createdAt });
      }
      if (rows.length < REPLAY_BATCH) break;
      await this.taken();
    }
  }

  /**
   * A live event, once per event per subscriber: no promise and no generator object on the way
   * when it follows the cursor (the steady state).
   * - at or below the cursor: a duplicate (already replayed), dropped;
   * - above cursor + 1: early (a writer committed out of step, or an event was lost): held until
   *   the missing ones arrive, or read from the database after GAP_WAIT_MS;
   * - without a position (READ, TYPING, MEMBER_*): passed on.
   */
  private onLive(event: ConversationEvent | WorkspaceEvent): void {
    if (this.over) return;
    if (!('conversationId' in event)) {
      // Losing the role (removed, or made a client): reached by role, the conversation is lost;
      // a member keeps it, but not the staff view this stream was started with.
      if (endsStaffStanding(this.ctx.viewer, event)) {
        this.close(
          new ForbiddenError(
            this.removable && event.type !== 'MEMBER_REMOVED'
              ? 'You are no longer staff of this workspace; this conversation’s events as staff see them stop here. Subscribe again for what your role allows.'
              : 'You are no longer staff of this workspace; this conversation’s events stop here.',
          ),
        );
      }
      return;
    }
    if (event.position != null) {
      if (event.position <= this.cursor) return;
      if (event.position > this.cursor + 1) return this.keep(event);
      this.cursor = event.position;
      this.emitFor(event);
      if (this.pending?.size) this.deliverHeld();
      return;
    }
    if (event.type === 'MEMBER_LEFT' && this.removable && event.userId === this.me) {
      return this.close(new ForbiddenError('You are no longer a member of this conversation; its events stop here.'));
    }
    this.emitFor(event);
    if (event.type === 'CONVERSATION_DELETED') this.close();
  }

  /** What the viewer is given of an event: all of it (staff), or the customer view of it (or nothing). */
  private emitFor(event: ConversationEvent): void {
    if (!this.customer) return this.emit(event);
    const seen = customerEvent(event, this.lastPublic);
    if (!seen) return;
    if (seen.message && seen.type === 'MESSAGE_ADDED') this.lastPublic = Math.max(this.lastPublic, seen.seq);
    this.emit(seen);
  }

  /**
   * Holds an early event. A held event waits at most GAP_WAIT_MS, counted from when the stream
   * began holding, not from the last event: in a busy conversation live events arrive every few
   * ms, and a wait restarted by each of them would never end while the gap stayed open.
   */
  private keep(event: ConversationEvent): void {
    (this.pending ??= new Map()).set(event.position!, event);
    if (this.holdingSince === 0) {
      this.holdingSince = Date.now();
      this.armGapRead();
    }
  }

  /** Delivers the held events that now follow the cursor without a gap. */
  private deliverHeld(): void {
    const pending = this.pending!;
    while (pending.has(this.cursor + 1)) {
      const held = pending.get(this.cursor + 1)!;
      pending.delete(this.cursor + 1);
      this.cursor = held.position!;
      this.emitFor(held);
    }
    if (pending.size === 0) this.stopHolding();
  }

  private stopHolding(): void {
    this.holdingSince = 0;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }

  private armGapRead(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(
      () => {
        this.gapTimer = null;
        this.readGap().catch((err: unknown) => this.close(err));
      },
      Math.max(0, this.holdingSince + GAP_WAIT_MS - Date.now()),
    );
    this.gapTimer.unref();
  }

  /**
   * What is missing did not arrive live (pub/sub lost it, or only this instance rang it during a
   * Redis outage, leaving gaps all along the way): reads everything up to the last held event in
   * one go, every gap at once, rather than one gap per wait. Live events wait meanwhile.
   */
  private async readGap(): Promise<void> {
    const pending = this.pending;
    if (this.over || !pending?.size) return;
    const live = this.live!;
    live.pause();
    try {
      let lastHeld = this.cursor;
      for (const position of pending.keys()) lastHeld = Math.max(lastHeld, position);
      for await (const event of readStream(this.ctx.db, this.conversationId, this.cursor, lastHeld + 1)) {
        if (this.over) return;
        this.cursor = event.position!;
        pending.delete(this.cursor);
        this.emitFor(event);
      }
      this.deliverHeld();
      for (const position of [...pending.keys()]) if (position <= this.cursor) pending.delete(position);
    } finally {
      if (!this.over) live.resume();
    }
    if (this.over) return;
    // Anything still held (not yet visible to this read) waits a full period again.
    if (pending.size === 0) this.stopHolding();
    else {
      this.holdingSince = Date.now();
      this.armGapRead();
    }
  }
}
