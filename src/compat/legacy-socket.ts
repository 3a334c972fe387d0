/**
 * What every legacy raw WebSocket protocol needs around its own commands, in one place:
 * - frames that arrive while the connection is still being set up (credentials checked, the
 *   subscription started) are held and handled afterwards, not lost;
 * - frames are handled one at a time, in the order they came, so two messages a client sends
 *   back to back are stored in that order;
 * - a frame that is not a JSON object, or whose handling fails, gets the protocol's own error
 *   frame and the socket stays open; a failure is logged, never thrown into the process;
 * - subscriptions followed for the socket end when it closes, and close it when they end.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

/** Close codes used by the legacy sockets (4xxx: the application's own). */
export const CLOSE = { badRequest: 4400, unauthorized: 4401, forbidden: 4403, notFound: 4404, internal: 1011 } as const;

export type Frame = Record<string, unknown>;

export class LegacySocket {
  private readonly early: Buffer[] = [];
  private readonly cleanups: Array<() => unknown> = [];
  private chain: Promise<void> = Promise.resolve();
  private closedFlag = false;
  private readonly hold = (data: Buffer) => this.early.push(data);

  /**
   * @param errorFrame the protocol's error frame for a message (e.g. `{command: 'error', message}`)
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly logger: Logger,
    private readonly errorFrame: (message: string) => Frame,
  ) {
    ws.on('message', this.hold);
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

  /** Starts handling frames, the held ones first; each is a parsed JSON object. */
  listen(handle: (frame: Frame) => Promise<void>): void {
    const onMessage = (data: Buffer) => {
      this.chain = this.chain.then(() => this.dispatch(data, handle));
    };
    this.ws.off('message', this.hold);
    this.ws.on('message', onMessage);
    for (const data of this.early.splice(0)) onMessage(data);
  }

  /**
   * Follows a subscription for as long as the socket is open: each value to `each`, in order.
   * The socket's closing ends the subscription; the subscription's ending (or failing) closes
   * the socket, as its client could otherwise wait forever for events that no longer come.
   */
  follow<T>(stream: AsyncIterableIterator<T>, each: (value: T) => void | Promise<void>, what: string): void {
    this.onClose(() => stream.return?.());
    void (async () => {
      for await (const value of stream) await each(value);
      this.close(CLOSE.internal, `The ${what} stream ended; reconnect`);
    })().catch((err: unknown) => {
      this.logger.warn({ err, what }, 'legacy socket stream failed');
      this.close(CLOSE.internal, `The ${what} stream failed; reconnect`);
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
