/**
 * Encode once, write many, write few: the graphql-ws `next` messages of subscriptions.
 *
 * graphql-ws builds and `JSON.stringify`s every message itself, so an event that reaches a
 * thousand subscribers was serialized a thousand times, although shared execution
 * (shared-execution.ts) had already given every subscriber of the same operation one and the same
 * result object. Here a result object is serialized once ({@link nextPayload}, remembered for as
 * long as the object lives) and each subscriber's message is its operation's prefix
 * (`{"id":<id>,"type":"next","payload":`, made once per subscription) followed by those bytes:
 * byte for byte what graphql-ws would have sent.
 *
 * The bytes are keyed by the result object, never by what was asked: results that differ by
 * viewer (a customer's view of a conversation, a context-dependent selection) are different
 * objects, executed for them alone, so they can never be given bytes encoded for someone else.
 * Results are read-only once delivered (shared-execution.ts), so their bytes cannot go stale.
 *
 * Writes to one socket in the same turn of the event loop go out in one system call: the socket
 * is corked at its first frame and uncorked once the turn is over ({@link Frames.corkForTurn}).
 *
 * The encoded payloads, the corked sockets and the counters belong to one WebSocket transport
 * (a {@link Frames} made by attachGraphQLWs), so two apps in one process share none of them.
 */
import type { Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';

/**
 * Counters for tests: payloads serialized, deliveries that reused one already serialized, and
 * results written in the call that pushed them (src/pubsub/push.ts) rather than read by next().
 */
export interface FrameStats {
  encoded: number;
  reused: number;
  pushed: number;
}

/** The `next` messages of one WebSocket transport: encoded once per result, written once per turn per socket. */
export class Frames {
  readonly stats: FrameStats = { encoded: 0, reused: 0, pushed: 0 };
  private readonly payloads = new WeakMap<object, Buffer>();
  private readonly corked = new Set<Socket>();
  private uncork: NodeJS.Immediate | null = null;

  /**
   * `maxBufferedBytes`: what a socket may hold unsent (WS_MAX_BUFFERED_BYTES); a message that
   * would pass it is not written and `overflow` is called (the socket closed as a slow consumer).
   */
  constructor(
    private readonly maxBufferedBytes: number,
    private readonly overflow: (socket: WebSocket) => void,
  ) {}

  /**
   * Writes one operation's `next` message (its `prefix`, then a payload from {@link nextPayload})
   * as one WebSocket text frame (RFC 6455 §5.2: final, opcode 1, unmasked from a server): the
   * frame's header and the prefix in one small buffer, then the payload's own bytes, shared by
   * every subscriber rather than copied for each. Written to the TCP socket under `socket`, into
   * the turn's cork, rather than through ws' send, which would frame and copy it again: ws frames
   * and writes at once when messages are not compressed (perMessageDeflate is off), so the order
   * with its own frames is kept, and its bufferedAmount counts these bytes too.
   */
  writeNext(socket: WebSocket, raw: Socket, prefix: string, payload: Buffer): void {
    if (socket.readyState !== socket.OPEN) return;
    const prefixLength = Buffer.byteLength(prefix);
    const length = prefixLength + payload.length;
    if (socket.bufferedAmount + length > this.maxBufferedBytes) return this.overflow(socket);
    const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const start = Buffer.allocUnsafe(headerLength + prefixLength);
    start[0] = 0x81;
    if (headerLength === 2) start[1] = length;
    else if (headerLength === 4) {
      start[1] = 126;
      start.writeUInt16BE(length, 2);
    } else {
      start[1] = 127;
      start.writeBigUInt64BE(BigInt(length), 2);
    }
    start.write(prefix, headerLength, prefixLength, 'utf8');
    this.corkForTurn(raw);
    raw.write(start);
    raw.write(payload);
  }

  /**
   * The end of a `next` message carrying `result`: its JSON payload and the message's closing
   * brace, encoded once per result object. Null for a result with errors: graphql-ws formats
   * those (each error's toJSON()) itself; they are rare and per subscriber anyway.
   */
  nextPayload(result: ExecutionResult): Buffer | null {
    if (typeof result !== 'object' || result === null || result.errors) return null;
    let bytes = this.payloads.get(result);
    if (bytes !== undefined) this.stats.reused++;
    else {
      this.stats.encoded++;
      // graphql-ws sends `{ ...resultWithoutErrors }`: without errors, the same keys in the same order.
      bytes = Buffer.from(`${JSON.stringify(result)}}`);
      this.payloads.set(result, bytes);
    }
    return bytes;
  }

  /**
   * Corks `socket` until the end of this turn of the event loop (setImmediate: after every
   * microtask and I/O callback of the turn), so that every frame written to it meanwhile (one
   * event's messages for each of its subscriptions, or a burst of events) leaves in one write
   * rather than one system call each. ws corks and uncorks around each frame too; corks nest.
   */
  corkForTurn(socket: Socket): void {
    if (this.corked.has(socket) || socket.destroyed) return;
    socket.cork();
    this.corked.add(socket);
    this.uncork ??= setImmediate(() => this.uncorkAll());
  }

  /** Writes out what is corked now (the transport closing: nothing waits for the turn's end). */
  uncorkAll(): void {
    if (this.uncork) clearImmediate(this.uncork);
    this.uncork = null;
    for (const socket of this.corked) socket.uncork();
    this.corked.clear();
  }
}

/**
 * The start of every `next` message of one operation, up to its payload. A string, kept by each
 * subscription for its life: a small Buffer would be a slice of Node's shared 8 KiB pool and keep
 * that whole slab alive (heap snapshots of 1,000 idle subscriptions: ~2.6 KB each, for ~40 bytes).
 */
export function nextPrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}
