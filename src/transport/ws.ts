/**
 * GraphQL subscriptions (and any operation) over graphql-ws, on the same /graphql path and
 * through the same Yoga envelope as HTTP, so plugins, masking and context are shared.
 * The credential in `connectionParams` is checked at connection: a bad one is refused with
 * close code 4403 and a reason the client can act on. The viewer it authenticated is kept for the
 * connection's operations, which read no database to authenticate: each checks the token's expiry,
 * and a change of the viewer's standing (a membership or role changed, the API key revoked) is
 * announced to every instance, so the next operation reads it again (src/auth/standing.ts). An
 * expired token, a revoked key or a removed member is thus refused from the next operation on.
 *
 * Subscription results are written to the socket here, not by graphql-ws (see writeResults): each
 * result serialized once for all who share it, each socket written once per turn of the event loop.
 *
 * Slow consumers. A subscription reads its next event only while its socket takes what it is
 * given (below its high-water mark of unsent bytes), so a client that stops reading stalls only
 * its own streams; what the server holds for it is bounded twice: each subscription's pub/sub queue
 * (SUBSCRIPTION_QUEUE_LIMIT events) and the socket's unsent bytes (WS_MAX_BUFFERED_BYTES). When
 * either fills, the socket is closed with {@link SLOW_CONSUMER_CLOSE_CODE} and a reason; a client
 * that still does not read is cut off after {@link SLOW_CONSUMER_CLOSE_GRACE_MS}. Publishing and
 * every other socket carry on. graphql-ws clients retry this code; on reconnecting, resubscribe
 * with the last cursor seen (`after: <seq>`) to get what was missed.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { getOperationAST, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type ServerOptions, type SubscribePayload } from 'graphql-ws';
import pLimit, { type LimitFunction } from 'p-limit';
import { WebSocket, type WebSocketServer } from 'ws';
import { credentialFromConnectionParams, type Credential, type Services } from '../graphql/context.js';
import { ConnectionViewers, type KeptViewer } from '../auth/standing.js';
import { AppError } from '../graphql/errors.js';
import type { PubSub } from '../pubsub/pubsub.js';
import { envelopeFor, type MaskError, type Yoga } from './http.js';
import { clientAddress } from '../security/address.js';
import { refuse } from '../security/refusal.js';
import { SocketLimits, TOO_MANY_CLOSE_CODE } from '../security/sockets.js';
import { viewerKey } from '../security/rate-limits.js';
import { resultWithRequestId, withRequestId } from '../observability/errors.js';
import { Frames, nextPrefix, type FrameStats } from './frames.js';
import { isPushable, type Pushable, type Sink } from '../pubsub/push.js';

/**
 * The close code for a slow consumer: a client that fell too far behind. Not one of graphql-ws'
 * own codes, and not one its client treats as fatal, so it reconnects (with retryAttempts > 0).
 */
export const SLOW_CONSUMER_CLOSE_CODE = 4008;

/** How long a slow consumer's socket may take to read up to our close frame before it is cut. */
export const SLOW_CONSUMER_CLOSE_GRACE_MS = 10_000;

const SLOW_CONSUMER_REASON = 'Slow consumer: fell too far behind. Reconnect and resubscribe with after: <last seq seen>.';

type Extra = {
  socket: WebSocket;
  /**
   * The TCP socket under `socket`. The upgrade request itself is not kept (1.3 KB with its raw
   * headers, per connection for its life): what is read of it is read at connection.
   */
  raw: Socket;
  /** The client's address (src/security/address.ts), read from the upgrade request at connection. */
  address: string | undefined;
  credential?: Credential;
  /** The viewer the credential authenticated, kept for the operations (src/auth/standing.ts). */
  kept?: KeptViewer;
  /** This connection's id in services.connections, once accepted. */
  connectionId?: string;
  /** Frees the connection's place in WS_MAX_CONNECTIONS_PER_USER (SocketLimits.admitUser), once accepted. */
  releaseUser?: () => void;
  /** Whom its operations count against (SocketLimits.identity), once accepted. */
  identity?: string;
  /** Pub/sub for this connection's operations: an overflow closes the socket as a slow consumer. */
  pubsub?: PubSub;
  /** Ids of the operations running on this connection (capped: src/security/sockets.ts). */
  running?: Set<string>;
  /**
   * Runs this connection's queries and mutations, WS_MAX_CONCURRENT_EXECUTIONS at a time, in the
   * order sent: a burst from one socket takes turns with everyone else's requests instead of
   * holding the event loop for all of its operations at once. Made at the first query or
   * mutation: a connection that only subscribes never needs it (1.2 KB each).
   */
  turns?: LimitFunction;
};

type Envelope = ReturnType<Yoga['getEnveloped']>;
interface RootValue {
  execute: Envelope['execute'];
  subscribe: Envelope['subscribe'];
  /** Where a subscription's results are written (see writeResults). */
  target: Target;
  /** The connection's: its turns for queries and mutations (Extra.turns). */
  extra: Extra;
}

/** An operation's request id: `<connection id>/<operation id>`. */
function operationId(extra: Extra, id: string): string {
  return `${extra.connectionId ?? 'ws'}/${id}`;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

/** Whether the socket has closed (its 'close' listeners have run). A function: TypeScript narrows a property read. */
const isClosed = (socket: WebSocket): boolean => socket.readyState === WebSocket.CLOSED;

/** WebSocket close reasons are limited to 123 bytes. */
export function closeReason(text: string): string {
  const buf = Buffer.from(text);
  return buf.length <= 123 ? text : `${buf.subarray(0, 120).toString('utf8')}...`;
}

/** Where a subscription's results are written: its socket, and the operation's id on it. */
interface Target {
  socket: WebSocket;
  /** The TCP socket under `socket` (the upgrade request's), corked for a turn and watched for drain. */
  raw: Socket;
  id: string;
  /** `<connection id>/<operation id>`: names the operation's errors (and the log lines about them). */
  requestId: string;
  /** The transport's encoder and corker (frames.ts). */
  frames: Frames;
}

const draining = new WeakMap<Socket, Promise<void>>();

/** Resolves once `raw` has written out what it held past its high-water mark, or closed. */
function drained(raw: Socket): Promise<void> {
  if (raw.destroyed) return Promise.resolve();
  let waiting = draining.get(raw);
  if (!waiting) {
    waiting = new Promise<void>((resolve) => {
      const done = () => {
        raw.off('drain', done);
        raw.off('close', done);
        draining.delete(raw);
        resolve();
      };
      raw.on('drain', done);
      raw.on('close', done);
    });
    draining.set(raw, waiting);
  }
  return waiting;
}

/**
 * A subscription's results, written to its socket here rather than handed one by one to
 * graphql-ws: the one per-subscriber layer between the envelop's stream and the socket.
 *
 * Each result without errors goes out as a `next` message built from bytes encoded once per
 * result (frames.ts: every subscriber sharing an execution shares them), into a socket corked for
 * the rest of the turn, so a burst leaves in one write. graphql-ws waited for each message's
 * write to complete before it read the next result; here results are taken while the socket takes
 * them, and taking pauses while it holds more than its high-water mark unsent (Node's `drain`).
 * A stream that pushes (src/pubsub/push.ts: a conversation's, through the shared execution) is
 * listened to, and each result written in the call that brought its event, with no promise per
 * event; any other stream is read with next(). A client that stops reading therefore still stops
 * its subscriptions' reads, their pub/sub
 * queues fill and overflow, and the socket is closed with {@link SLOW_CONSUMER_CLOSE_CODE}, as
 * before; WS_MAX_BUFFERED_BYTES still caps the socket's unsent bytes (capBufferedBytes).
 * graphql-ws still runs the operation's life: it sees only the results that carry errors (it
 * formats those) and the end, and its `return()` on complete or close stops this at once.
 *
 * A stream that fails mid-way (a slow consumer, say) ends with one final result carrying the
 * error, instead of an exception that graphql-ws would answer by closing the whole socket with
 * 4500 and ending the client's other subscriptions too.
 *
 * Written as an iterator rather than an async generator: a generator's return() waits until
 * its pending next() settles, i.e. until the next event, and graphql-ws awaits return() on
 * every subscription before it runs onClose. An idle subscription then delayed the close (and
 * services.connections' 'closed') indefinitely. Here return() answers at once and tells the
 * source to stop.
 */
function writeResults(
  stream: AsyncIterable<ExecutionResult>,
  mask: MaskError,
  target: Target,
): AsyncIterableIterator<ExecutionResult> {
  return new ResultWriter(stream[Symbol.asyncIterator](), mask, target);
}

const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };

/**
 * {@link writeResults}' iterator. A class rather than an object literal of closures: one lives
 * per subscription for as long as it lasts, and a literal's methods are four closures each (the
 * `[Symbol.asyncIterator]` one with a name string built per object); here they are shared on the
 * prototype and the state is a few fields.
 */
class ResultWriter implements AsyncIterableIterator<ExecutionResult>, Sink<ExecutionResult> {
  private finished = false;
  /** Settles the next() in flight, if any: a client leaving ends it as done, not at the source's next event. */
  private settle: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  /** The start of this operation's `next` messages (frames.ts). */
  private readonly prefix: string;
  /** The source pushes (push.ts): listened to at the first next(). */
  private readonly pushed: boolean;
  private listening = false;
  /** Pushed: the source is paused until graphql-ws asks for the next result (it is sending one with errors). */
  private handedOver = false;
  /** Pushed: the source is paused until the socket drains. */
  private draining = false;

  constructor(
    private readonly inner: AsyncIterator<ExecutionResult>,
    private readonly mask: MaskError,
    private readonly target: Target,
  ) {
    this.prefix = nextPrefix(target.id);
    this.pushed = isPushable(inner);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.finished) return Promise.resolve(DONE);
    return new Promise((resolve) => {
      this.settle = resolve;
      if (!this.pushed) return this.pull();
      if (!this.listening) {
        this.listening = true;
        (this.inner as Pushable<ExecutionResult>).listen(this);
      } else if (this.handedOver) {
        this.handedOver = false;
        (this.inner as Pushable<ExecutionResult>).resume();
      }
    });
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.stop();
    return DONE;
  }

  async throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.stop();
    throw err;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }

  /**
   * A result pushed by the source (Sink): written at once, in the call that brought its event.
   * One with errors is handed to graphql-ws to send, and the source waits until graphql-ws asks
   * for more; a socket past its high-water mark pauses the source until it drains.
   */
  push(result: ExecutionResult): void {
    if (this.finished) return;
    const inner = this.inner as Pushable<ExecutionResult>;
    try {
      this.target.frames.stats.pushed++;
      if (!this.write(result)) {
        this.handedOver = true;
        inner.pause();
        return this.finishWith({ value: resultWithRequestId(result, this.target.requestId), done: false });
      }
      const raw = this.target.raw;
      if (raw.writableNeedDrain && !this.draining) {
        this.draining = true;
        inner.pause();
        drained(raw).then(
          () => {
            this.draining = false;
            inner.resume();
          },
          (err: unknown) => this.fail(err),
        );
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** The pushed stream's end (Sink): done, or failed with `error`. */
  end(error?: unknown): void {
    if (error === undefined) this.finishWith(DONE);
    else this.fail(error);
  }

  private stop(): void {
    this.finished = true;
    this.settle?.(DONE);
    this.settle = null;
    Promise.resolve(this.inner.return?.()).catch(() => undefined);
  }

  /**
   * Pulled: reads and writes results until one is for graphql-ws to send (errors) or the stream
   * ends, then settles the next() in flight with it. A loop of callbacks, not an async function:
   * it runs once per event per subscriber, and each await is a further promise and turn. What
   * was written is not kept while it waits for the next event (an idle subscription waits for
   * hours): each result lives only in the callback that writes it. (Heap snapshots of idle
   * subscriptions once showed each holding its last message and, through it, an 8 KiB pool slab.)
   */
  private pull(): void {
    // Whatever throws here (the source, a write) ends the stream with the error; nothing
    // escapes as an unhandled rejection.
    try {
      if (this.finished) return this.finishWith(DONE);
      const raw = this.target.raw;
      if (raw.writableNeedDrain) {
        drained(raw).then(() => this.pull(), (err: unknown) => this.fail(err));
        return;
      }
      this.inner.next().then((step) => this.took(step), (err: unknown) => this.fail(err));
    } catch (err) {
      this.fail(err);
    }
  }

  /** Writes a result read by pull() and reads on, or ends there. */
  private took(step: IteratorResult<ExecutionResult>): void {
    try {
      if (this.finished) return this.finishWith(DONE);
      if (step.done) return this.finishWith(step);
      // A result with errors goes to graphql-ws to send, named with its operation.
      if (!this.write(step.value)) return this.finishWith({ value: resultWithRequestId(step.value, this.target.requestId), done: false });
    } catch (err) {
      return this.fail(err);
    }
    this.pull();
  }

  /** Settles the next() in flight with the stream's end, or with a result for graphql-ws to send. */
  private finishWith(result: IteratorResult<ExecutionResult>): void {
    if (result.done) this.finished = true;
    const settle = this.settle;
    this.settle = null;
    settle?.(result);
  }

  /**
   * A stream that failed ends with one final result carrying the error (see the class comment).
   */
  private fail(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    const error = err instanceof AppError ? withRequestId(err, this.target.requestId) : this.mask(err, this.target.requestId);
    const settle = this.settle;
    this.settle = null;
    settle?.({ value: { errors: [error] }, done: false });
    if (this.pushed) Promise.resolve(this.inner.return?.()).catch(() => undefined);
  }

  /** Sends a result as a `next` frame; false when graphql-ws is to send it (it carries errors). */
  private write(result: ExecutionResult): boolean {
    const { socket, raw, frames } = this.target;
    const payload = frames.nextPayload(result);
    if (!payload) return false;
    // As graphql-ws' own sends: nothing is written to a closing socket; WS_MAX_BUFFERED_BYTES
    // applies as it does to socket.send (capBufferedBytes).
    frames.writeNext(socket, raw, this.prefix, payload);
    return true;
  }
}

/**
 * Closes a socket that fell behind with {@link SLOW_CONSUMER_CLOSE_CODE}; the close frame waits
 * behind what the client has not read yet, so a client that never reads again is cut off after
 * the grace period. Safe to call more than once.
 */
export function closeSlowConsumer(socket: WebSocket, why: string, logger: Services['logger'], metrics?: Services['metrics']): void {
  if (socket.readyState !== WebSocket.OPEN) return;
  metrics?.slowConsumerCloses.inc();
  logger.warn({ why, bufferedBytes: socket.bufferedAmount }, 'closing a slow consumer');
  socket.close(SLOW_CONSUMER_CLOSE_CODE, closeReason(SLOW_CONSUMER_REASON));
  const cut = setTimeout(() => socket.terminate(), SLOW_CONSUMER_CLOSE_GRACE_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

/**
 * Caps the bytes a socket may have queued but not yet written (ws `bufferedAmount`): a send that
 * would go past `maxBytes` calls `overflow` instead (the socket closed as a slow consumer).
 * graphql-ws sends through `socket.send`, so the cap is applied there, per socket; the `next`
 * frames written by Frames.writeNext apply the same cap with the same `overflow`.
 */
function capBufferedBytes(socket: WebSocket, maxBytes: number, overflow: (socket: WebSocket) => void): void {
  const send = socket.send.bind(socket);
  // One signature that serves both of ws' overloads of send, so it replaces send as it is typed.
  const capped = (data: SendData, options?: SendOptions | SendCallback, cb?: SendCallback): void => {
    if (typeof options === 'function') {
      cb = options;
      options = {};
    }
    const size = byteSize(data);
    if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount + size > maxBytes) {
      overflow(socket);
      // Dropped, not failed: the client recovers it by resuming from its cursor.
      cb?.();
      return;
    }
    send(data, options ?? {}, cb);
  };
  socket.send = capped;
}

type SendData = Parameters<WebSocket['send']>[0];
type SendOptions = NonNullable<Parameters<WebSocket['send']>[1]>;
type SendCallback = (err?: Error) => void;

/**
 * The bytes a send adds to the socket's buffer. graphql-ws and the encoded frames send strings
 * and Buffers; the other forms ws accepts (numbers, arrays, objects converted by valueOf) are
 * never sent here and count as nothing rather than guessed.
 */
function byteSize(data: SendData): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data)) return data.byteLength;
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return data.byteLength;
  if (data instanceof Blob) return data.size;
  return 0;
}

/** How many distinct documents serveGraphQLWs keeps one copy of, each at most so long (see Canonical): 4 MB at most. */
const QUERIES_KEPT = 1000;
const QUERY_KEPT_LENGTH = 4096;

/**
 * One copy of each string among the last `max` distinct ones seen: `canonical(s)` answers the
 * copy kept, equal to `s` (a longer one than QUERY_KEPT_LENGTH is not kept). When full, it starts over (an app sends a few documents; an attacker
 * sending new ones each time only makes it start over, and costs one Map of `max` strings).
 */
class Canonical {
  private readonly kept = new Map<string, string>();
  constructor(private readonly max: number) {}

  canonical(value: string): string {
    if (value.length > QUERY_KEPT_LENGTH) return value;
    const known = this.kept.get(value);
    if (known !== undefined) return known;
    if (this.kept.size >= this.max) this.kept.clear();
    this.kept.set(value, value);
    return value;
  }
}

/** What serveGraphQLWs asks of its caller about each connection. */
interface ConnectionHooks<E> {
  /** How often sockets are pinged; one that has not answered by the next ping is cut (as graphql-ws' useServer). */
  keepAliveMs: number;
  /** The extra fields of a new connection (graphql-ws' `ctx.extra`), read from its upgrade request now. */
  extra(socket: WebSocket, request: IncomingMessage): E;
  /** The socket closed (after graphql-ws was told): release what the connection held. */
  closed(extra: E, code: number): void;
}

/**
 * graphql-ws on a `ws` server: what graphql-ws' own `useServer` (graphql-ws/use/ws) does, with
 * differences that are memory, since an idle subscription's socket lives for hours:
 * - Its message listener is an async function that awaits the whole operation, and a
 *   subscription's operation lasts as long as the subscription: it kept the raw `subscribe` frame
 *   (the Buffer, a slice of the socket's read chunk, so the chunk's whole ArrayBuffer) alive for
 *   the subscription's life, ~1 KB per idle subscription in heap snapshots and up to a read chunk
 *   (64 KiB) when a client's frames arrive together. Here the frame is turned into a string at
 *   once and the Buffer is let go.
 * - The frame's text is not kept either: it is parsed here, and graphql-ws given the message,
 *   whose document is one copy shared by every operation that sends the same (Canonical).
 * - No closure keeps the upgrade request: {@link ConnectionHooks.extra} reads what is needed of it.
 * - One keep-alive sweep for every socket instead of a timer (and a `once('pong')`) per socket,
 *   one shared error listener, one close listener per socket for everything the connection holds.
 * Errors are logged with our logger rather than console.error, and the close reason never
 * carries an error's text.
 */
function serveGraphQLWs<E extends { socket: WebSocket }>(
  options: ServerOptions<Record<string, unknown> | undefined, E>,
  wss: WebSocketServer,
  logger: Services['logger'],
  frames: Frames,
  hooks: ConnectionHooks<E>,
): { dispose: () => Promise<void> } {
  const server = makeServer<Record<string, unknown> | undefined, E>(options);
  wss.options.handleProtocols = handleProtocols;
  wss.once('error', (err) => {
    logger.error({ err }, 'the WebSocket server failed; closing its sockets');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });
  // The documents operations send: every client of an app sends the same few, and graphql-ws
  // keeps each operation's for its life (a subscription's for hours), so each is kept once.
  const queries = new Canonical(QUERIES_KEPT);
  // Sockets pinged by the last sweep that have not answered since.
  let unanswered = new Set<WebSocket>();
  const sweep = setInterval(() => {
    for (const socket of unanswered) socket.terminate();
    unanswered = new Set();
    for (const socket of wss.clients) {
      if (socket.readyState !== WebSocket.OPEN) continue;
      unanswered.add(socket);
      socket.ping();
    }
  }, hooks.keepAliveMs);
  sweep.unref();
  function answered(this: WebSocket): void {
    unanswered.delete(this);
  }
  function failed(this: WebSocket, err: Error): void {
    logger.error({ err }, 'a WebSocket failed');
    this.close(CloseCode.InternalServerError, 'Internal server error');
  }
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const extra = hooks.extra(socket, request);
    const raw = request.socket;
    socket.on('error', failed);
    socket.on('pong', answered);
    const closed = server.opened(
      {
        protocol: socket.protocol,
        // Into the socket corked for this turn (frames.ts), without waiting for the write: a
        // query's or mutation's `next` and `complete` then leave in one write instead of two (a
        // system call costs as much as the rest of a small send on a virtual machine). ws keeps
        // the order of what is sent; a failed write closes the socket.
        send: (data) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          frames.corkForTurn(raw);
          socket.send(data);
        },
        close: (code, reason) => socket.close(code, reason),
        // Not an async listener: the frame's Buffer ends with this call (see above). The frame is
        // parsed here: graphql-ws keeps what it is given for the operation's life, and its parsed
        // message holds what it needs, without the frame's text (graphql-ws refuses what does
        // not parse, given as text).
        onMessage: (handle) =>
          socket.on('message', (data: Buffer) => {
            const text = String(data);
            let message: unknown = text;
            try {
              message = JSON.parse(text);
              const payload = (message as { payload?: { query?: unknown } } | null)?.payload;
              if (typeof payload?.query === 'string') payload.query = queries.canonical(payload.query);
            } catch {
              // Left as text: graphql-ws answers it.
            }
            handle(message as string).catch((err: unknown) => {
              logger.error({ err }, 'a graphql-ws message failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      extra,
    );
    socket.on('close', (code: number, reason: Buffer) => {
      unanswered.delete(socket);
      void closed(code, String(reason));
      hooks.closed(extra, code);
    });
  });
  return {
    dispose: async () => {
      clearInterval(sweep);
      for (const client of wss.clients) client.close(1001, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

export function attachGraphQLWs(
  wss: WebSocketServer,
  yoga: Yoga,
  services: Services,
  mask: MaskError,
): { dispose: () => Promise<void>; inFlight: () => number; frames: Readonly<FrameStats> } {
  const logger = services.logger.child({ component: 'ws' });
  // This transport's `next` frames: encoded once per result, corked per socket for a turn.
  // A socket past WS_MAX_BUFFERED_BYTES unsent, by a send of graphql-ws' or a `next` frame of ours.
  const maxBuffered = services.config.WS_MAX_BUFFERED_BYTES;
  const overBuffered = (socket: WebSocket) => closeSlowConsumer(socket, `more than ${maxBuffered} bytes unsent`, logger, services.metrics);
  const frames = new Frames(maxBuffered, overBuffered);
  // Queries and mutations running now: a draining server closes sockets once they are done.
  let inFlight = 0;
  // The connections' viewers, kept between operations and refreshed when their standing changes.
  const viewers = new ConnectionViewers(services);
  const stopViewers = viewers.start();
  // Registered before graphql-ws' own listener, so the cap is in place before anything is sent.
  wss.on('connection', (socket: WebSocket) => capBufferedBytes(socket, maxBuffered, overBuffered));
  const turnsOf = (extra: Extra) => (extra.turns ??= pLimit(services.config.WS_MAX_CONCURRENT_EXECUTIONS));
  const server = serveGraphQLWs<Extra>(
    {
      execute: (args) => {
        const root = args.rootValue as RootValue;
        inFlight++;
        return turnsOf(root.extra)(async () => {
          try {
            return await root.execute(args as ExecutionArgs);
          } finally {
            inFlight--;
          }
        });
      },
      subscribe: (args) => {
        const root = args.rootValue as RootValue;
        return (async () => {
          const result = await root.subscribe(args as ExecutionArgs);
          return isAsyncIterable(result) ? writeResults(result as AsyncIterable<ExecutionResult>, mask, root.target) : result;
        })();
      },
      onConnect: async (ctx) => {
        const extra = ctx.extra;
        const socket = extra.socket;
        try {
          const credential = credentialFromConnectionParams(ctx.connectionParams);
          const sockets = services.defenses.sockets;
          const known = credential.kind === 'bearer' ? sockets.spentCredential(credential.value) : null;
          if (known) {
            socket.close(TOO_MANY_CLOSE_CODE, closeReason(refuse(services.defenses.logger, known).message));
            return false;
          }
          const kept = await viewers.open(credential);
          // Forgotten when the socket closes (the `closed` hook below), whether it is accepted or refused below.
          if (isClosed(socket)) {
            viewers.release(kept);
            return false;
          }
          extra.kept = kept;
          const viewer = kept.viewer;
          const identity = SocketLimits.identity(viewerKey(viewer), extra.address);
          const spent = await services.defenses.sockets.admitConnection(identity);
          if (spent) {
            if (credential.kind === 'bearer') sockets.noteSpent(credential.value, spent);
            const error = refuse(services.defenses.logger, spent, { identity });
            socket.close(TOO_MANY_CLOSE_CODE, closeReason(error.message));
            return false;
          }
          // Closed meanwhile: the `closed` hook below has run, and released what was set before.
          if (isClosed(socket)) return false;
          extra.identity = identity;
          const admitted = services.defenses.sockets.admitUser(viewerKey(viewer), extra.address);
          if (typeof admitted !== 'function') {
            socket.close(TOO_MANY_CLOSE_CODE, closeReason(`Too many connections for this user (at most ${admitted.kind === 'connection' ? admitted.max : ''}).`));
            return false;
          }
          extra.releaseUser = admitted;
          extra.credential = credential;
          // graphql-ws calls onClose only once every subscription has returned; listeners
          // (claims, presence, calls) hear of the closed socket at once (the `closed` hook below).
          extra.connectionId = services.connections.open(viewer).id;
          extra.pubsub = services.pubsub.withOverflowHandler(() =>
            closeSlowConsumer(socket, 'a subscription queue overflowed', logger, services.metrics),
          );
          return true;
        } catch (err) {
          if (err instanceof AppError) {
            ctx.extra.socket.close(CloseCode.Forbidden, closeReason(err.message));
            return false;
          }
          logger.error({ err }, 'connection check failed');
          ctx.extra.socket.close(CloseCode.InternalServerError, 'Internal server error');
          return false;
        }
      },
      onClose: (ctx, code) => {
        if (ctx.extra.connectionId) services.connections.close(ctx.extra.connectionId, code ?? 1005);
      },
      // What graphql-ws answers with an `error` message (a refusal, a document that does not
      // parse or validate, a context that could not be built) names the operation too.
      onError: (ctx, id, _payload, errors) => errors.map((error) => withRequestId(error, operationId(ctx.extra, id)).toJSON()),
      onComplete: (ctx, id) => {
        ctx.extra.running?.delete(id);
      },
      onSubscribe: async (ctx, id, payload: SubscribePayload) => {
        const running = (ctx.extra.running ??= new Set());
        const refusal = await services.defenses.sockets.admitOperation(ctx.extra.connectionId ?? '', ctx.extra.identity ?? '', running.size);
        const trusted = services.defenses.trusted;
        if (trusted) {
          // Over graphql-ws too, only trusted documents run (src/security/trusted-documents.ts).
          const query = trusted.resolve(payload as { query?: string; extensions?: Record<string, unknown> });
          if (!query) return [refuse(services.defenses.logger, { kind: 'trusted-documents' })];
          payload = { ...payload, query };
        }
        if (refusal) {
          const error = refuse(services.defenses.logger, refusal, { connectionId: ctx.extra.connectionId });
          // A connection starting operations faster than WS_MAX_OPERATIONS is flooding: answering
          // each with an error would still cost per frame, so it is closed (clients back off on 4429).
          if (refusal.kind === 'rate') {
            const credential = ctx.extra.credential;
            if (credential?.kind === 'bearer') services.defenses.sockets.noteSpent(credential.value, refusal);
            ctx.extra.socket.close(TOO_MANY_CLOSE_CODE, closeReason(error.message));
          }
          return [error];
        }
        try {
          const extra = ctx.extra;
          const requestId = operationId(extra, id);
          const { schema, execute, subscribe, contextFactory, parse, validate } = envelopeFor(yoga, {
            requestId,
            // Set when the connection was accepted, before any operation can start; were it
            // missing, the operation runs as nobody rather than failing on a missing header.
            credential: extra.credential ?? { kind: 'none' },
            connectionId: extra.connectionId,
            clientAddress: extra.address,
          });
          let document;
          try {
            document = parse(payload.query);
          } catch (err) {
            return [err instanceof GraphQLError ? err : new GraphQLError('The query could not be parsed.')];
          }
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const kept = extra.kept;
          const build = async () => contextFactory(kept ? { viewer: await viewers.viewerFor(kept) } : undefined);
          // Building the context may read the viewer's standing from the database (when it
          // changed): a query's or mutation's takes turns too. Otherwise the connection's kept
          // viewer is used as it is.
          const subscribing = getOperationAST(document, payload.operationName)?.operation === 'subscription';
          const contextValue = subscribing ? await build() : await turnsOf(extra)(build);
          if (extra.pubsub) (contextValue as { pubsub: PubSub }).pubsub = extra.pubsub;
          const args: ExecutionArgs = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue,
            rootValue: {
              execute,
              subscribe,
              target: { socket: extra.socket, raw: extra.raw, id, requestId, frames },
              extra,
            } satisfies RootValue,
          };
          running.add(id);
          return args;
        } catch (err) {
          // An error here must not close the socket (graphql-ws would, with 4500): answer this
          // one operation with it.
          return [err instanceof AppError ? err : mask(err, operationId(ctx.extra, id))];
        }
      },
    },
    wss,
    logger,
    frames,
    {
      keepAliveMs: services.config.WS_KEEP_ALIVE_MS,
      extra: (socket, request) => ({ socket, raw: request.socket, address: clientAddress(request, services.config.TRUST_PROXY) }),
      closed: (extra, code) => {
        if (extra.kept) viewers.release(extra.kept);
        extra.releaseUser?.();
        if (extra.connectionId) services.connections.close(extra.connectionId, code);
      },
    },
  );
  return {
    dispose: async () => {
      await server.dispose();
      await stopViewers();
      frames.uncorkAll();
    },
    inFlight: () => inFlight,
    frames: frames.stats,
  };
}
