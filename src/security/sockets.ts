/**
 * Caps on open WebSockets, counted on this instance: per client address (every WebSocket path,
 * checked at the upgrade, before the handshake) and per user or API key (graphql-ws, at
 * connection_init). Operations per graphql-ws connection are capped here too: how many may run
 * at once, and how many may start in a window, per connection and per user over all its
 * connections (so a flooder closed with 4429 gains nothing by reconnecting).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/env.js';
import { clientAddress } from './address.js';
import { refuse, type Refusal } from './refusal.js';

/** The close code for a refused connection or a connection over its operation rate (graphql-ws' own "too many"). */
export const TOO_MANY_CLOSE_CODE = 4429;

export class SocketLimits {
  private readonly perAddress = new Map<string, number>();
  private readonly perUser = new Map<string, number>();
  private readonly operations: RateLimiterMemory;
  private readonly identityOperations: RateLimiterMemory;
  private readonly upgrades: RateLimiterMemory;
  /**
   * Credentials whose identity's operation budget is spent, with when it frees: a reconnecting
   * flooder is refused on sight, before its credential costs a database read to authenticate.
   */
  private readonly spentCredentials = new Map<string, number>();

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    const { points, seconds } = config.WS_MAX_OPERATIONS;
    this.operations = new RateLimiterMemory({ keyPrefix: 'ws-ops', points, duration: seconds });
    const upgrades = config.WS_UPGRADES_PER_ADDRESS;
    this.upgrades = new RateLimiterMemory({ keyPrefix: 'ws-upgrades', points: upgrades.points, duration: upgrades.seconds });
    const perIdentity = config.WS_MAX_OPERATIONS_PER_USER;
    this.identityOperations = new RateLimiterMemory({ keyPrefix: 'ws-ops-identity', points: perIdentity.points, duration: perIdentity.seconds });
  }

  /**
   * Who a connection's operations count against: its user or API key, or its address when signed
   * out. A connection closed for flooding otherwise comes back as a new connection with a fresh
   * budget.
   */
  static identity(user: string | null, address: string | undefined): string {
    return user ?? `address:${address ?? 'unknown'}`;
  }

  /**
   * At connection_init: a refusal while the identity's operation budget is spent (its last
   * connection was closed for it), before the connection costs anything more; or null.
   */
  async admitConnection(identity: string): Promise<Refusal | null> {
    const state = await this.identityOperations.get(identity);
    if (state && state.remainingPoints <= 0) {
      return { kind: 'rate', limit: 'WS_MAX_OPERATIONS_PER_USER', retryAfterMs: state.msBeforeNext };
    }
    return null;
  }

  /** Before authenticating a connection: the refusal its credential met last, while it holds. */
  spentCredential(credential: string): Refusal | null {
    const until = this.spentCredentials.get(credential);
    if (until === undefined) return null;
    const retryAfterMs = until - Date.now();
    if (retryAfterMs <= 0) {
      this.spentCredentials.delete(credential);
      return null;
    }
    return { kind: 'rate', limit: 'WS_MAX_OPERATIONS_PER_USER', retryAfterMs };
  }

  /** Remembers that a credential's budget is spent (a per-user refusal), until it frees. */
  noteSpent(credential: string, refusal: Refusal): void {
    if (refusal.kind !== 'rate' || refusal.limit !== 'WS_MAX_OPERATIONS_PER_USER') return;
    // Bounded: beyond this many flooders at once, the oldest are forgotten (and authenticated
    // again, which is all it costs).
    if (this.spentCredentials.size >= 10_000) this.spentCredentials.delete(this.spentCredentials.keys().next().value!);
    this.spentCredentials.set(credential, Date.now() + refusal.retryAfterMs);
  }

  /**
   * At an upgrade, before the handshake: refuses (429 with Retry-After, and closes) an address
   * opening WebSockets faster than WS_UPGRADES_PER_ADDRESS or holding WS_MAX_CONNECTIONS_PER_ADDRESS
   * already; otherwise counts the socket against its address until it closes. Whether it may go on.
   */
  async admitUpgrade(req: IncomingMessage, socket: Duplex): Promise<boolean> {
    const address = clientAddress(req, this.config.TRUST_PROXY) ?? 'unknown';
    const tooMany = (refusal: Refusal, retryAfterMs: number) => {
      refuse(this.logger, refusal, { address });
      const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
      socket.end(`HTTP/1.1 429 Too Many Requests\r\nRetry-After: ${retryAfter}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return false;
    };
    try {
      await this.upgrades.consume(address);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      return tooMany({ kind: 'rate', limit: 'WS_UPGRADES_PER_ADDRESS', retryAfterMs: err.msBeforeNext }, err.msBeforeNext);
    }
    // Checked and counted in one go, after the wait above, so concurrent upgrades cannot overshoot.
    const held = this.perAddress.get(address) ?? 0;
    const max = this.config.WS_MAX_CONNECTIONS_PER_ADDRESS;
    if (held >= max) return tooMany({ kind: 'connection', limit: 'WS_MAX_CONNECTIONS_PER_ADDRESS', max }, 10_000);
    this.perAddress.set(address, held + 1);
    socket.once('close', () => release(this.perAddress, address));
    return true;
  }

  /** At connection_init: a release function, or the refusal when the user holds its cap. */
  admitUser(user: string | null, address: string | undefined): (() => void) | Refusal {
    if (!user) return () => undefined;
    const held = this.perUser.get(user) ?? 0;
    const max = this.config.WS_MAX_CONNECTIONS_PER_USER;
    if (held >= max) {
      const refusal: Refusal = { kind: 'connection', limit: 'WS_MAX_CONNECTIONS_PER_USER', max };
      refuse(this.logger, refusal, { user, address });
      return refusal;
    }
    this.perUser.set(user, held + 1);
    let released = false;
    return () => {
      if (!released) release(this.perUser, user);
      released = true;
    };
  }

  /** Before an operation starts on a connection already running `running`: a refusal, or null. */
  async admitOperation(connectionId: string, identity: string, running: number): Promise<Refusal | null> {
    // Every subscribe message counts against the rates, refused or not: a socket sending
    // thousands of them is flooding whatever they ask, and is closed.
    try {
      await this.identityOperations.consume(identity);
    } catch (err) {
      if (err instanceof RateLimiterRes) return { kind: 'rate', limit: 'WS_MAX_OPERATIONS_PER_USER', retryAfterMs: err.msBeforeNext };
      throw err;
    }
    try {
      await this.operations.consume(connectionId);
    } catch (err) {
      if (err instanceof RateLimiterRes) return { kind: 'rate', limit: 'WS_MAX_OPERATIONS', retryAfterMs: err.msBeforeNext };
      throw err;
    }
    if (running >= this.config.WS_MAX_SUBSCRIPTIONS) {
      return { kind: 'connection', limit: 'WS_MAX_SUBSCRIPTIONS', max: this.config.WS_MAX_SUBSCRIPTIONS };
    }
    return null;
  }
}

function release(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}
