/**
 * The one message pipeline every kind of conversation uses (rooms, threads, tickets; calls and
 * attachments write their messages through it too):
 *
 *   one statement (so one transaction), for this message and any others waiting for the same
 *   conversation: next seqs (a row lock on the conversation serialises writers, so seqs have no
 *   holes), insert, advance the authors' read marks -> commit -> publish ONE event per message,
 *   carrying the whole message, on `conversation:<id>`.
 *
 * Sends are idempotent on (conversation, author, clientMessageId) through a unique index: a
 * retry returns the first message, never a second row, and a losing concurrent insert rolls back
 * its seq so no hole is left. The first message is looked for only when a send fails (a retry
 * fails the insert), not read for before each one: a send is one statement.
 *
 * A message carrying uploads takes the same path: the statement also links its pending
 * attachments, and runs in a transaction that is undone if one of them could not be linked.
 *
 * Guards (support: claims, closed tickets) cost nothing in the common case: each gives a SQL
 * condition, true when it has nothing to refuse in the conversation, that the statement requires
 * before it writes. Only when a condition fails is the guard asked about each message (a read),
 * and what it lets through written without the conditions; a conversation whose condition failed
 * goes that way at once for a while (see {@link MessagePipeline}). So a send to a room, or to a
 * ticket no one claims, is ONE statement, guard included.
 *
 * This file decides when a message is written (checks, guards, the group commit) and what
 * follows (publish, listeners); the write itself, one statement and its row mapping, is
 * append-statement.ts.
 */
import type { Prisma } from '../../generated/prisma/client.js';
import type { ConversationChangeType } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { ClaimHeldError, ConflictError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { insertMessages, type AppendedTo, type AppendInput, type Inserted } from './append-statement.js';
import { messageSelect, toMessageRecord, type MessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';
import { resolveMentions } from '../notifications/mentions.js';

export type { AppendedTo, AppendInput } from './append-statement.js';

export const MAX_BODY_LENGTH = 10_000;

/**
 * What an append refuses with, its own checks and its guards' (a claim held by another agent, a
 * closed ticket): every mutation that sends through the pipeline lists these in its result union.
 */
export const APPEND_ERRORS = [ValidationError, NotFoundError, ClaimHeldError, ConflictError];

export interface AppendResult {
  record: MessageRecord;
  /** False when an earlier send with the same clientMessageId is returned. */
  created: boolean;
}

/**
 * What another module refuses before messages are written (support: a claim held by another
 * agent, a closed ticket), in two parts: `clear`, a condition the write itself requires (free),
 * and `check`, the detailed answer per message (a read), asked only when `clear` failed.
 */
export interface AppendGuard {
  /**
   * A boolean SQL expression, true when `check` would let every message of any commit to
   * `conversationId` through (support: no live claim, not a closed ticket). The append statement
   * requires it, evaluated in its own snapshot, so a refusal committed before the statement
   * started is never missed. It may be false when `check` would refuse nothing (the claim's own
   * holder writing): that only costs the read. Built right before each write (it may carry the
   * time).
   */
  clear(conversationId: string): Prisma.Sql;
  /**
   * Given every message of one group commit, all for the same conversation, answers for each:
   * undefined to let it through, or one of {@link APPEND_ERRORS} to refuse it (nothing of it is
   * written; the others go on). Asked only when `clear` failed (or failed lately for this
   * conversation), right before the write, so it reads once per commit rather than once per
   * message; what it lets through is then written without the conditions. A retry of a message
   * already written is answered with that message whatever the guard says. Throwing fails every
   * message of the commit.
   */
  check(services: Services, conversationId: string, inputs: readonly AppendInput[]): Promise<(Error | undefined)[]>;
}

/** Tuning of {@link MessagePipeline}; the defaults suit production, tests shorten them. */
export interface PipelineOptions {
  /**
   * How long (ms) a conversation whose guard condition failed is written by the guards' check at
   * once, without first trying the conditional write (which would write nothing). Default 30 s.
   */
  rememberGuardedMs?: number;
  /** How many such conversations are remembered at most; the oldest is forgotten first. Default 4,096. */
  rememberGuardedMax?: number;
}

/**
 * Told after a message is committed and announced (support: ticket status and urgency). Awaited,
 * so the sender sees its effects; a failure is logged and never fails the send.
 */
export type AppendListener = (services: Services, record: MessageRecord, conversation: AppendedTo) => Promise<void>;

/**
 * Told after a change to a message (edit, delete, reaction, pin) is committed and announced
 * (changes.ts; notifications: mentions added by an edit). Awaited; a failure is logged and never
 * fails the change.
 */
export type ChangeListener = (services: Services, type: ConversationChangeType, record: MessageRecord) => Promise<void>;

/** What other modules add to the pipeline; app.ts gives them, in the order they run. */
export interface PipelineHooks {
  /** Required by the write, and asked (in order) when that fails (support: claims, closed tickets). */
  guards: AppendGuard[];
  /** Told after a message is committed and announced, in order (support: urgency; notifications). */
  appended: AppendListener[];
  /** Told after a change to a message is committed and announced, in order (notifications). */
  changed: ChangeListener[];
}

declare module '../../graphql/context.js' {
  interface Services {
    /** The message pipeline: every message is written through it (built by app.ts with its hooks). */
    pipeline: MessagePipeline;
  }
}

/**
 * The pipeline of one app: its hooks, the appends waiting for a conversation's write in progress
 * (the group commit, see `insertMessage`), and the conversations whose guard condition failed
 * lately. Those (a claimed ticket, a closed one) go straight to the guards' check and the write:
 * while a claim lasts, every send there would otherwise pay for a statement that writes nothing.
 * Per instance and bounded; forgetting one early only costs that statement once more.
 */
export class MessagePipeline {
  /** Per conversation: the appends waiting for its write in progress. */
  private readonly waiting = new Map<string, Pending[]>();
  /** Conversations whose guard condition failed lately. */
  private readonly guarded: RecentlyGuarded;

  constructor(
    private readonly hooks: PipelineHooks,
    options: PipelineOptions = {},
  ) {
    this.guarded = new RecentlyGuarded(options.rememberGuardedMs ?? 30_000, options.rememberGuardedMax ?? 4096);
  }

  /** Appends a message and announces it. */
  async append(services: Services, input: AppendInput): Promise<AppendResult> {
    const body = input.body;
    const attachmentIds = input.attachmentIds ?? [];
    if (input.kind !== 'SYSTEM' && body.trim().length === 0 && attachmentIds.length === 0) {
      throw new ValidationError([{ path: ['input', 'body'], message: 'must not be empty' }]);
    }
    if (body.length > MAX_BODY_LENGTH) {
      throw new ValidationError([{ path: ['input', 'body'], message: `must be at most ${MAX_BODY_LENGTH} characters` }]);
    }
    if (input.visibility === 'INTERNAL' && attachmentIds.length > 0) {
      throw new ValidationError([{ path: ['input', 'visibility'], message: 'an internal note carries text only' }]);
    }
    if (input.mentions === undefined && input.kind !== 'SYSTEM' && body.includes('@')) {
      input = { ...input, mentions: await resolveMentions(services, input.conversationId, body, input.authorId, input.visibility ?? 'PUBLIC') };
    }

    let record: MessageRecord;
    let head: AppendedTo;
    try {
      // Every message, with uploads or without, goes through the group commit's one statement.
      ({ record, head } = await this.insertMessage(services, input));
    } catch (err) {
      // A retry is found by what it fails with, not read for before every send: a second row
      // with the same clientMessageId fails the insert (the unique index), and a guard may
      // refuse a retry of a message it let through before (the ticket since claimed by
      // another agent). Either way the first message is the answer.
      if (input.clientMessageId) {
        // A failure to look is not the answer: the send's own error is.
        const earlier = await findByClientId(services, input).catch(() => null);
        if (earlier) return { record: earlier, created: false };
      }
      throw err;
    }
    publishConversationEvent(services, {
      type: 'MESSAGE_ADDED',
      conversationId: input.conversationId,
      seq: record.seq,
      position: record.position,
      message: record,
    });
    for (const listener of this.hooks.appended) {
      await listener(services, record, head).catch((err: unknown) =>
        services.logger.error({ err, conversationId: record.conversationId, seq: record.seq }, 'append listener failed'),
      );
    }
    return { record, created: true };
  }

  /** Tells the change listeners of a change committed and announced at `position` (changes.ts). */
  async changed(services: Services, type: ConversationChangeType, record: MessageRecord, position: number): Promise<void> {
    for (const listener of this.hooks.changed) {
      await listener(services, type, record).catch((err: unknown) =>
        services.logger.error({ err, conversationId: record.conversationId, position }, 'change listener failed'),
      );
    }
  }

  /**
   * Writes a message: at once when its conversation has no write in progress in this process,
   * otherwise with the others that arrived meanwhile, in one statement, when that write is done
   * (group commit). A conversation's messages are numbered under its row lock, so its writes are
   * serial whatever we do; batching pays for the lock and the commit once per batch instead of
   * once per message, which is what bounds how many messages a busy conversation takes a second.
   * Nothing waits on a timer: a lone message is written immediately.
   */
  private insertMessage(services: Services, input: AppendInput): Promise<Inserted> {
    const conversations = this.waiting;
    return new Promise((resolve, reject) => {
      const queue = conversations.get(input.conversationId);
      if (queue) {
        queue.push({ input, resolve, reject });
        return;
      }
      conversations.set(input.conversationId, [{ input, resolve, reject }]);
      void this.drain(services, input.conversationId);
    });
  }

  /**
   * Writes the conversation's waiting appends, a batch at a time, until none is left. Never throws.
   *
   * A batch's appends are answered (and go on to announce their messages to every subscriber)
   * once the next batch's statement is on its way to the database, not before: under load the
   * fan-out of one batch then runs while the database writes the next, instead of the database
   * waiting for it. Statements stay one at a time per conversation and batches are answered in
   * order, so seqs and events keep theirs. A lone message is answered as soon as it is written.
   */
  private async drain(services: Services, conversationId: string): Promise<void> {
    const queue = this.waiting.get(conversationId)!;
    let written = this.held(services, conversationId, queue.splice(0, MAX_BATCH));
    // Answers handed to setImmediate and not yet given: later ones must follow them.
    let deferred = 0;
    const answer = (answers: Array<() => void>) => {
      deferred--;
      for (const give of answers) give();
    };
    for (;;) {
      const answers = await written;
      const next = queue.splice(0, MAX_BATCH);
      if (next.length > 0) written = this.held(services, conversationId, next);
      else this.waiting.delete(conversationId);
      if (next.length > 0 || deferred > 0) {
        // The next statement's connection is handed over in a tick and its query written in
        // microtasks; setImmediate runs after both, and before any answer from the database
        // (which comes in a later turn), so the batches' answers keep their order.
        deferred++;
        setImmediate(answer, answers);
      } else {
        for (const give of answers) give();
      }
      if (next.length === 0) return;
    }
  }

  /** {@link commit}, with the answers it gives held back: given by whoever calls them. Never throws. */
  private async held(services: Services, conversationId: string, taken: Pending[]): Promise<Array<() => void>> {
    const answers: Array<() => void> = [];
    await this.commit(
      services,
      conversationId,
      taken.map((p) => ({
        input: p.input,
        resolve: (inserted: Inserted) => answers.push(() => p.resolve(inserted)),
        reject: (err: unknown) => answers.push(() => p.reject(err)),
      })),
    );
    return answers;
  }

  /**
   * One group commit: answers every append of `taken`. Unless the conversation was guarded
   * lately, the guards' conditions go into the statement: one statement when they hold (the
   * common case). When one fails nothing is written, and the guards' check answers each message
   * and what it admits is written without the conditions, as when it was guarded lately.
   */
  private async commit(services: Services, conversationId: string, taken: Pending[]): Promise<void> {
    const guards = this.hooks.guards;
    if (guards.length > 0 && !this.guarded.has(conversationId)) {
      let written: Inserted[] | null;
      try {
        const onlyIf = guards.map((guard) => guard.clear(conversationId));
        written = await insertMessages(services, conversationId, taken.map((p) => p.input), { onlyIf });
      } catch (err) {
        // The conditions held (a failed one writes nothing, so fails nothing): a message was
        // refused by the statement itself (a reply target elsewhere, a repeated clientMessageId,
        // a file that is not a pending upload). Alone, that is its answer; in a batch, each is
        // written alone to get its own.
        if (taken.length === 1) {
          taken[0]!.reject(err);
          return;
        }
        for (const p of taken) await this.commit(services, conversationId, [p]);
        return;
      }
      if (written) {
        taken.forEach((p, i) => p.resolve(written[i]!));
        return;
      }
      this.guarded.add(conversationId);
    }
    const batch = await admitted(services, guards, conversationId, taken);
    if (batch.length > 0) await write(services, conversationId, batch);
  }
}

/**
 * Conversations whose guard condition failed, each for `ms` after it did, at most `max` (the
 * oldest forgotten first; all live equally long, so insertion order is expiry order).
 */
class RecentlyGuarded {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ms: number,
    private readonly max: number,
  ) {}

  has(conversationId: string): boolean {
    const until = this.until.get(conversationId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.until.delete(conversationId);
    return false;
  }

  add(conversationId: string): void {
    this.until.delete(conversationId);
    if (this.until.size >= this.max) this.until.delete(this.until.keys().next().value!);
    this.until.set(conversationId, Date.now() + this.ms);
  }
}

/**
 * The message an earlier send with the same clientMessageId stored, or null: how a retried send
 * finds its first answer (sendAttachment asks before storing files, the pipeline before writing).
 */
export async function findByClientId(services: Pick<Services, 'db'>, input: Pick<AppendInput, 'conversationId' | 'authorId' | 'clientMessageId'>): Promise<MessageRecord | null> {
  if (!input.clientMessageId || !input.authorId) return null;
  const row = await services.db.message.findUnique({
    where: {
      conversationId_authorId_clientMessageId: {
        conversationId: input.conversationId,
        authorId: input.authorId,
        clientMessageId: input.clientMessageId,
      },
    },
    select: messageSelect,
  });
  return row ? toMessageRecord(row) : null;
}

/** Messages written together at most, when many wait for one conversation. */
const MAX_BATCH = 100;

interface Pending {
  input: AppendInput;
  resolve: (inserted: Inserted) => void;
  reject: (err: unknown) => void;
}

/**
 * Writes a batch the guards' check admitted, without their conditions. A failed
 * statement fails the batch: then each is written alone, so each gets its own answer.
 */
async function write(services: Services, conversationId: string, batch: Pending[]): Promise<void> {
  try {
    const records = await insertMessages(services, conversationId, batch.map((p) => p.input));
    batch.forEach((p, i) => p.resolve(records[i]!));
  } catch (err) {
    if (batch.length === 1) {
      batch[0]!.reject(err);
      return;
    }
    // One refused message (a reply target elsewhere, a repeated clientMessageId, a file that
    // is not a pending upload) fails the statement for all: write each alone, so each gets its
    // own answer.
    for (const p of batch) {
      try {
        p.resolve((await insertMessages(services, conversationId, [p.input]))[0]!);
      } catch (e) {
        p.reject(e);
      }
    }
  }
}

/**
 * The messages of a commit the guards let through; each refused one is answered with its
 * refusal, and a guard that fails answers every message with that failure.
 */
async function admitted(services: Services, guards: readonly AppendGuard[], conversationId: string, batch: Pending[]): Promise<Pending[]> {
  let waiting = batch;
  for (const guard of guards) {
    if (waiting.length === 0) break;
    let verdicts: (Error | undefined)[];
    try {
      verdicts = await guard.check(services, conversationId, waiting.map((p) => p.input));
    } catch (err) {
      for (const p of waiting) p.reject(err);
      return [];
    }
    waiting = waiting.filter((p, i) => {
      const refusal = verdicts[i];
      if (refusal) p.reject(refusal);
      return !refusal;
    });
  }
  return waiting;
}

/**
 * Publishes one event on the conversation's channel, stamped with the time. Rung, not awaited
 * (PubSub.ring): this instance's subscribers have it when this returns, the other instances
 * shortly after, and a subscriber anywhere resumes from the database what it missed, so the
 * caller's answer does not wait for Redis.
 */
export function publishConversationEvent(services: Services, event: Omit<ConversationEvent, 'at'>): void {
  // A message announced again (legacy 004) keeps its place in the stream: a duplicate there.
  const added = event.type === 'MESSAGE_ADDED' ? event.message : undefined;
  const position = event.position ?? added?.position;
  const publicPosition = event.publicPosition ?? added?.publicPosition ?? undefined;
  services.pubsub.ring('conversation', event.conversationId, {
    ...event,
    position,
    ...(publicPosition != null ? { publicPosition } : {}),
    at: new Date().toISOString(),
  });
}

/** Loads one message as a record, or null. */
export async function loadMessage(services: Services, id: string): Promise<MessageRecord | null> {
  const row = await services.db.message.findUnique({ where: { id }, select: messageSelect });
  return row ? toMessageRecord(row) : null;
}
