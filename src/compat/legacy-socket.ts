/**
 * What every legacy raw WebSocket protocol needs around its own commands, in one place:
 * - the handshake completes only once the protocol has set the connection up (credentials
 *   checked, subscriptions live), so from a client's `open` on nothing sent to it is missed; a
 *   refusal is a close code right after the handshake, as legacy clients read close codes;
 * - frames are handled one at a time, in the order they came, so two messages a client sends
 *   back to back are stored in that order;
 * - a frame that is not a JSON object, or whose handling fails, gets the protocol's own error
 *   frame and the socket stays open; a failure is logged, never thrown into the process;
 * - subscriptions followed for the socket end when it closes, and close it when they end.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import { LegacyNotConfigured } from './credentials.js';
import { throttledMessage, type Gate } from '../security/legacy.js';

/** Each accepted socket's rate-limit gate (set by acceptWhenReady). */
const gates = new WeakMap<WebSocket, Gate>();

/** Close codes used by the legacy sockets (4xxx: the application's own). */
export const CLOSE = { badRequest: 4400, unauthorized: 4401, forbidden: 4403, notFound: 4404, internal: 1011, tryAgain: 1013 } as const;

/** What a protocol decides before the handshake: refuse with a close code, or serve the socket. */
export type Admission =
  | { refuse: { code: number; reason: string } }
  | {
      serve: (ws: WebSocket) => void;
      /** Releases what was set up when the client left before the handshake completed. */
      abandon: () => unknown;
    };

export const refuse = (code: number, reason: string): Admission => ({ refuse: { code, reason } });

/**
 * Completes a legacy socket's handshake once `admit` has set it up. A client that leaves while
 * it does gets nothing, and what was set up is abandoned. `admit` failing is logged and told as
 * 1011 (or, when the shim has no LEGACY_API_KEY, as such).
 */
export function acceptWhenReady(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  logger: Logger,
  admit: () => Promise<Admission>,
  gate?: Gate,
): void {
  let gone = false;
  const onGone = () => (gone = true);
  socket.once('close', onGone);
  admit()
    .catch((err: unknown): Admission => {
      if (err instanceof LegacyNotConfigured) return refuse(CLOSE.internal, 'The legacy API is not configured (LEGACY_API_KEY)');
      logger.error({ err }, 'legacy socket could not be set up');
      return refuse(CLOSE.internal, 'Internal server error');
    })
    .then((admission) => {
      socket.off('close', onGone);
      let accepted = false;
      if (!gone) {
        // ws completes (or refuses) a handshake synchronously; one it refused gets no callback.
        wss.handleUpgrade(req, socket, head, (ws) => {
          accepted = true;
          if (gate) gates.set(ws, gate);
          ws.on('error', (err) => logger.warn({ err }, 'legacy socket error'));
          if ('refuse' in admission) ws.close(admission.refuse.code, admission.refuse.reason);
          else admission.serve(ws);
        });
      }
      if (!accepted && 'abandon' in admission) return admission.abandon();
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'legacy socket failed');
      socket.destroy();
    });
}

export type Frame = Record<string, unknown>;

export class LegacySocket {
  private readonly cleanups: Array<() => unknown> = [];
  private chain: Promise<void> = Promise.resolve();
  private closedFlag = false;

  /**
   * @param errorFrame the protocol's error frame for a message (e.g. `{command: 'error', message}`)
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly logger: Logger,
    private readonly errorFrame: (message: string) => Frame,
  ) {
    ws.once('close', () => {
      this.closedFlag = true;
      for (const cleanup of this.cleanups.splice(0)) this.runCleanup(cleanup);
    });
  }

  get closed(): boolean {
    return this.closedFlag || this.ws.readyState !== this.ws.OPEN;
  }

  send(payload: Frame): void {
    if (!this.closed) this.ws.send(JSON.stringify(payload));
  }

  error(message: string): void {
    this.send(this.errorFrame(message));
  }

  close(code: number, reason: string): void {
    if (!this.closed) this.ws.close(code, reason);
  }

  /** Runs `cleanup` when the socket closes (at once if it already has). */
  onClose(cleanup: () => unknown): void {
    if (this.closedFlag) this.runCleanup(cleanup);
    else this.cleanups.push(cleanup);
  }

  /** Handles frames, in order, one at a time; each is a parsed JSON object. */
  listen(handle: (frame: Frame) => Promise<void>): void {
    this.ws.on('message', (data: Buffer) => {
      this.chain = this.chain.then(() => this.dispatch(data, handle));
    });
  }

  /**
   * Follows a subscription for as long as the socket is open: each value to `each`, in order.
   * The socket's closing ends the subscription; the subscription's ending (or failing: it fell
   * behind, the server is stopping) closes the socket with 1013, so that the client reconnects
   * rather than wait forever for events that no longer come.
   */
  follow<T>(stream: AsyncIterableIterator<T>, each: (value: T) => void | Promise<void>, what: string): void {
    this.onClose(() => stream.return?.());
    void (async () => {
      for await (const value of stream) await each(value);
      this.close(CLOSE.tryAgain, `Live ${what} ended; reconnect`);
    })().catch((err: unknown) => {
      this.logger.warn({ err, what }, 'legacy socket stream failed');
      this.close(CLOSE.tryAgain, `Live ${what} failed; reconnect`);
    });
  }

  private async dispatch(data: Buffer, handle: (frame: Frame) => Promise<void>): Promise<void> {
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      return this.error('Malformed JSON');
    }
    if (!frame || typeof frame !== 'object' || Array.isArray(frame)) return this.error('Send a JSON object');
    const throttled = await gates.get(this.ws)?.();
    if (throttled) return this.error(throttledMessage(throttled));
    try {
      await handle(frame as Frame);
    } catch (err) {
      this.logger.error({ err }, 'legacy socket frame failed');
      this.error('Internal server error');
    }
  }

  private runCleanup(cleanup: () => unknown): void {
    Promise.resolve()
      .then(cleanup)
      .catch((err: unknown) => this.logger.warn({ err }, 'legacy socket cleanup failed'));
  }
}
