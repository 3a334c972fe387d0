/**
 * One GraphQL subscription per conversation per instance, fanned out to the Socket.IO room of
 * the sockets following it: each new message is shaped once and broadcast once, however many
 * sockets listen (Socket.IO encodes a broadcast once). The sender's own socket is left out (it
 * has the message as its reply): a socket about to send registers itself under the message's
 * author, and the first message of that author to arrive skips it.
 *
 * A socket that joins while the feed runs is "held" until its history is sent: messages that
 * arrive meanwhile are kept for it, and those the history did not already contain follow it. So
 * a joining socket misses nothing and sees nothing twice.
 */
import type { Logger } from 'pino';
import type { Credential } from '../graphql/context.js';
import type { Executor } from './executor.js';
import { firstError } from './executor.js';
import { Legacy002EventsDocument, type Legacy002MessageFragment } from './generated/graphql.js';
import { fail, ok, type Reply } from './legacy-002-common.js';
import type { LegacyServer } from './legacy-002-types.js';

/** A registered send whose message has not arrived by then is forgotten (it failed elsewhere, or its feed restarted). */
const SENDING_TTL_MS = 30_000;

export interface FeedOptions {
  io: LegacyServer;
  /** The Socket.IO room of its sockets. */
  room: string;
  /** The event and operation messages go out as (`my_response` / `message_event`, say). */
  event: string;
  operation: string;
  format: (message: Legacy002MessageFragment) => unknown;
  logger: Logger;
  /** Called once the feed is over, stopped or not. */
  onEnd: (feed: Feed) => void;
}

export class Feed {
  private readonly held = new Map<string, Array<{ seq: number; reply: Reply }>>();
  /** Author id → sockets sending as that author, oldest first. */
  private readonly sending = new Map<string, Array<{ socketId: string; at: number }>>();
  private iterator: AsyncIterator<unknown> | null = null;
  private stopped = false;

  constructor(private readonly o: FeedOptions) {}

  /** Follows the conversation from after `after` (null: from now) until stopped or it ends. */
  async run(executor: Executor, conversationId: string, after: number | null, credential: Credential): Promise<void> {
    let reason = 'the conversation ended';
    try {
      const stream = await executor.subscribe(Legacy002EventsDocument, { conversationId, after }, credential);
      if (!(Symbol.asyncIterator in stream)) {
        reason = firstError(stream)?.message ?? reason;
        return;
      }
      if (this.stopped) {
        await stream.return?.();
        return;
      }
      this.iterator = stream;
      for await (const result of stream) {
        if (this.stopped) break;
        if (result.errors?.length) {
          reason = firstError(result)?.message ?? reason;
          break;
        }
        const event = result.data?.conversationEvents;
        if (event?.type === 'MESSAGE_ADDED' && event.message) this.deliver(event.message);
        else if (event?.type === 'CONVERSATION_DELETED') break;
      }
    } catch (err) {
      reason = 'an internal error';
      this.o.logger.error({ err, room: this.o.room }, 'legacy 002 feed failed');
    } finally {
      this.o.onEnd(this);
      if (!this.stopped) {
        this.stopped = true;
        this.o.logger.warn({ room: this.o.room, reason }, 'legacy 002 feed ended');
        this.o.io.to(this.o.room).emit(this.o.event, fail(this.o.operation, `Live messages stopped (${reason}); join again to resume`));
        for (const socketId of [...this.held.keys()]) this.release(socketId, Infinity);
      }
    }
  }

  private deliver(message: Legacy002MessageFragment): void {
    const reply = ok(this.o.operation, this.o.format(message));
    const sender = message.author ? this.senderOf(message.author.id) : null;
    const except: string[] = sender ? [sender] : [];
    for (const [socketId, queue] of this.held) {
      except.push(socketId);
      if (socketId !== sender) queue.push({ seq: message.seq, reply });
    }
    this.o.io.to(this.o.room).except(except).emit(this.o.event, reply);
  }

  /** The socket is about to send a message as this author; the returned function cancels (the send failed). */
  expect(authorId: string, socketId: string): () => void {
    const entry = { socketId, at: Date.now() };
    const list = this.sending.get(authorId) ?? [];
    list.push(entry);
    this.sending.set(authorId, list);
    return () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0 && this.sending.get(authorId) === list) this.sending.delete(authorId);
    };
  }

  private senderOf(authorId: string): string | null {
    const list = this.sending.get(authorId);
    if (!list) return null;
    let found: string | null = null;
    while (list.length && !found) {
      const entry = list.shift()!;
      if (Date.now() - entry.at < SENDING_TTL_MS) found = entry.socketId;
    }
    if (list.length === 0) this.sending.delete(authorId);
    return found;
  }

  /** Keeps what arrives for a socket until release(): its history is on the way. */
  hold(socketId: string): void {
    if (!this.held.has(socketId)) this.held.set(socketId, []);
  }

  /** Sends a held socket what arrived after the history it was given (up to seq `upTo`). */
  release(socketId: string, upTo: number): void {
    const queue = this.held.get(socketId);
    this.held.delete(socketId);
    const socket = this.o.io.sockets.sockets.get(socketId);
    if (!queue || !socket) return;
    for (const { seq, reply } of queue) if (seq > upTo) socket.emit(this.o.event, reply);
  }

  /** Stops delivering at once; the subscription ends with it. */
  stop(): void {
    this.stopped = true;
    this.held.clear();
    void Promise.resolve(this.iterator?.return?.()).catch(() => undefined);
  }

  get active(): boolean {
    return !this.stopped;
  }
}

export interface FollowSpec {
  room: string;
  event: string;
  operation: string;
  format: (message: Legacy002MessageFragment) => unknown;
  conversationId: string;
  /** Where a feed that starts now begins (the seq the caller's history will start from), or null for "from now". */
  after: number | null;
  credential: Credential;
  /** The executor of the socket that follows: a feed it starts runs on behalf of its client. */
  executor: Executor;
}

/** The feeds of this instance, by Socket.IO room; a feed stops when its room empties. */
export class Feeds {
  private readonly feeds = new Map<string, Feed>();

  constructor(
    private readonly io: LegacyServer,
    private readonly logger: Logger,
  ) {
    io.of('/').adapter.on('delete-room', (room: string) => this.feeds.get(room)?.stop());
  }

  /**
   * Adds the socket to the room, starting its feed if none runs. With `hold`, what arrives for the
   * socket waits for the returned feed's release() (send the history first).
   */
  follow(socket: { id: string; join(room: string): unknown }, spec: FollowSpec, hold: boolean): Feed {
    let feed = this.feeds.get(spec.room);
    let start = false;
    if (!feed?.active) {
      feed = new Feed({
        io: this.io,
        room: spec.room,
        event: spec.event,
        operation: spec.operation,
        format: spec.format,
        logger: this.logger,
        onEnd: (ended) => {
          if (this.feeds.get(spec.room) === ended) this.feeds.delete(spec.room);
        },
      });
      this.feeds.set(spec.room, feed);
      start = true;
    }
    if (hold) feed.hold(socket.id);
    void socket.join(spec.room);
    if (start) void feed.run(spec.executor, spec.conversationId, spec.after, spec.credential);
    return feed;
  }

  /**
   * A socket is about to send as this author to the conversation of `room`: its message, when it
   * comes back through the feed, skips that socket. Returns the cancel for a failed send.
   */
  sending(room: string, authorId: string, socketId: string): () => void {
    const feed = this.feeds.get(room);
    return feed?.active ? feed.expect(authorId, socketId) : () => undefined;
  }

  get size(): number {
    return this.feeds.size;
  }
}
