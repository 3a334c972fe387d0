/**
 * Rate limits (rate-limiter-flexible): counters in Redis when REDIS_URL is set, so every
 * instance sharing RATE_LIMIT_KEY_PREFIX enforces one limit together, in memory otherwise.
 *
 * GraphQL operations are counted by {@link useRateLimits} before they run, per root field, so
 * 200 aliased `logIn`s spend 200 attempts and a refused operation does nothing at all.
 */
import type { Redis } from 'ioredis';
import {
  getArgumentValues,
  getOperationAST,
  Kind,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config, Rate } from '../config/env.js';
import type { Viewer } from '../auth/viewer.js';
import { refuse, type Refusal } from './refusal.js';

/** The rate settings (names of Config fields holding a "<points>/<seconds>"). */
export type RateSetting = {
  [K in keyof Config]-?: Config[K] extends Rate ? K : never;
}[keyof Config];

export class RateLimits {
  private readonly limiters = new Map<RateSetting, RateLimiterAbstract>();
  /** With Redis: what this instance last heard of each counter, for spending without waiting (see consume). */
  private readonly known = new Map<string, Known>();

  /**
   * `redis` is the instance's state connection (src/redis/connect.ts), or null to count in
   * memory. While it is unreachable a command fails at once (no offline queue, a short timeout)
   * instead of holding the request until Redis returns: a rate limit must never make a send wait
   * on Redis (README "Outages"). The limiters then count in memory (their insurance).
   */
  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    private readonly redis: Redis | null,
  ) {}

  private limiter(setting: RateSetting): RateLimiterAbstract {
    let limiter = this.limiters.get(setting);
    if (!limiter) {
      const { points, seconds } = this.config[setting] as Rate;
      const options = { keyPrefix: `${this.config.RATE_LIMIT_KEY_PREFIX}:${setting}`, points, duration: seconds };
      limiter = this.redis
        ? new RateLimiterRedis({ ...options, storeClient: this.redis, insuranceLimiter: new RateLimiterMemory(options) })
        : new RateLimiterMemory(options);
      this.limiters.set(setting, limiter);
    }
    return limiter;
  }

  /**
   * Spends `points` of `setting` for `key`; answers the refusal when they are not there.
   * While Redis is down each instance counts in memory (the insurance limiter), so the limits
   * still hold, per instance; a store failing beyond that lets the attempt through, logged: the
   * limits protect the service, and refusing everyone would be the outage they protect against.
   *
   * With Redis, a counter this instance knows to be far from its limit is spent without waiting
   * for Redis: the points are still counted there (every one, in order, on the state
   * connection), and each answer updates what is known. An attempt waits for Redis' answer when
   * nothing is known of its counter (its first in a window), when its window has ended, and
   * within the last tenth of the limit, so refusals are Redis' own. A send to a conversation
   * thus waits on the database alone, not on a Redis round trip before it. On one instance the
   * limit is exact (what it knows counts every attempt it sent and has not heard back on); with
   * several, others' attempts are seen with each answer, so a counter can pass its limit by at
   * most what this instance admitted in one round trip while it was more than a tenth away.
   * What is spent without waiting is sent at the end of the turn, one command per counter.
   * The answer is then synchronous (no promise).
   */
  consume(setting: RateSetting, key: string, points = 1): Refusal | null | Promise<Refusal | null> {
    if (!this.redis) return this.spend(setting, key, points, null);
    const id = `${setting}\u0000${key}`;
    const known = this.known.get(id);
    const limit = (this.config[setting] as Rate).points;
    if (known && Date.now() < known.resetAt && known.remaining - known.pending - points >= Math.ceil(limit / 10)) {
      known.pending += points;
      // Counted in Redis at the end of this turn of the event loop, with whatever else this
      // counter spent meanwhile: one command for a burst of sends, not one each.
      if (known.unsent === 0) setImmediate(() => this.flush(setting, key, known));
      known.unsent += points;
      return null;
    }
    const entry = this.remember(id);
    // What this turn spent without waiting goes first, so that Redis counts it before deciding this one.
    if (entry.unsent > 0) this.flush(setting, key, entry);
    entry.pending += points;
    return this.spend(setting, key, points, entry);
  }

  /** Spends in the limiter, and notes its answer in `known` (when given). */
  private async spend(setting: RateSetting, key: string, points: number, known: Known | null): Promise<Refusal | null> {
    try {
      const res = await this.limiter(setting).consume(key, points);
      known?.heard(points, res);
      return null;
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        known?.heard(points, err);
        return { kind: 'rate', limit: setting, retryAfterMs: err.msBeforeNext };
      }
      known?.heard(points, null);
      this.logger.warn({ err, setting }, 'rate-limit store failed; letting the attempt through');
      return null;
    }
  }

  /** Counts in Redis what `known` spent without waiting this turn. */
  private flush(setting: RateSetting, key: string, known: Known): void {
    const points = known.unsent;
    if (points === 0) return;
    known.unsent = 0;
    void this.spend(setting, key, points, known);
  }

  /** The entry for `id`, made when missing; expired entries are dropped once there are many. */
  private remember(id: string): Known {
    let known = this.known.get(id);
    if (!known) {
      if (this.known.size >= KNOWN_MAX) {
        const now = Date.now();
        for (const [k, v] of this.known) if (v.resetAt <= now && v.pending === 0) this.known.delete(k);
        if (this.known.size >= KNOWN_MAX) this.known.clear();
      }
      known = new Known();
      this.known.set(id, known);
    }
    return known;
  }
}

/** How many counters an instance keeps what it knows of, at most (each a few dozen bytes). */
const KNOWN_MAX = 10_000;

/** What an instance last heard of one Redis counter, and what it has sent since. */
class Known {
  /** Points left in the window, as of the last answer; 0 until one comes. */
  remaining = 0;
  /** Points spent and not answered yet (sent to Redis or about to be). */
  pending = 0;
  /** Of those, points spent without waiting this turn, not sent to Redis yet (see flush). */
  unsent = 0;
  /** When the counter's window ends (ms since the epoch): after it, nothing is known. */
  resetAt = 0;

  /** An answer for `points` spent: the counter as Redis has it (null: the store failed, forget it). */
  heard(points: number, res: RateLimiterRes | null): void {
    this.pending = Math.max(0, this.pending - points);
    if (!res) {
      this.resetAt = 0;
      return;
    }
    this.remaining = res.remainingPoints;
    this.resetAt = Date.now() + res.msBeforeNext;
  }
}

/**
 * What the limits read of an operation's context: who sends it, from where. (The defenses sit
 * below the GraphQL context, which holds them: they name only what they need of it.)
 */
export interface RateLimitedContext {
  clientAddress?: string | null;
  viewer: Viewer;
  /** An operation of an HTTP request (src/graphql/context.ts): it spends RATE_LIMIT_HTTP_OPERATIONS. */
  overHttp?: boolean;
}

type Key = (args: Record<string, unknown>, ctx: RateLimitedContext) => string | null | undefined;

const address: Key = (_args, ctx) => ctx.clientAddress ?? null;
/** Who writes: the user an API key names with asUserId (the legacy shim's way), else the viewer. */
const author: Key = (args, ctx) => input('asUserId')(args, ctx) ?? viewerKey(ctx.viewer);
const input = (name: string): Key => (args) => {
  const value = (args.input as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value).trim().toLowerCase() : null;
};

/** Which root fields spend which limits, keyed how. Aliases of a field each spend. */
const RULES: Record<string, Array<[RateSetting, Key]>> = {
  logIn: [
    ['RATE_LIMIT_LOGIN_ADDRESS', address],
    // The account as the attempt names it: `login` (username or email) or `email` (an account
    // named both ways has two counters: at most twice the rate, never unlimited).
    ['RATE_LIMIT_LOGIN_ACCOUNT', (args, ctx) => input('login')(args, ctx) ?? input('email')(args, ctx)],
  ],
  signUp: [
    ['RATE_LIMIT_SIGNUP_ADDRESS', address],
    ['RATE_LIMIT_SIGNUP_EMAIL', input('email')],
  ],
  confirmSignUp: [['RATE_LIMIT_CONFIRM_SIGNUP_ADDRESS', address]],
  startGuestSession: [['RATE_LIMIT_GUEST_ADDRESS', address]],
  refreshSession: [['RATE_LIMIT_REFRESH_ADDRESS', address]],
  sendMessage: [
    ['RATE_LIMIT_SEND_USER', author],
    ['RATE_LIMIT_SEND_CONVERSATION', input('conversationId')],
  ],
  sendAttachment: [
    ['RATE_LIMIT_SEND_USER', author],
    ['RATE_LIMIT_SEND_CONVERSATION', input('conversationId')],
  ],
  sendTicketMessage: [
    ['RATE_LIMIT_SEND_USER', author],
    ['RATE_LIMIT_SEND_CONVERSATION', input('ticketId')],
  ],
  sendCannedReply: [
    ['RATE_LIMIT_SEND_USER', author],
    ['RATE_LIMIT_SEND_CONVERSATION', input('conversationId')],
  ],
  // Its conversation (the viewer's thread of a type) is found by the mutation: the sender counts.
  sendThreadMessage: [['RATE_LIMIT_SEND_USER', author]],
};

/**
 * Every mutation root field, whatever it is, also spends RATE_LIMIT_MUTATIONS_USER for a signed-in
 * user or guest: what one account can make the server write and publish to others (reactions,
 * edits, pins, typing, ICE candidates…) is bounded, not only its sends. API keys are not counted
 * here: they are server-to-server credentials an admin issues (the legacy shim's backends speak
 * for many users through one); their sends still count per `asUserId`. Signed out, the only
 * mutations that run are the sign-in ones, limited per address above.
 */
const EVERY_MUTATION: [RateSetting, Key] = ['RATE_LIMIT_MUTATIONS_USER', (_args, ctx) => (ctx.viewer.kind === 'apiKey' ? null : viewerKey(ctx.viewer))];

/**
 * Every operation sent over HTTP, query, mutation or subscription (SSE), spends
 * RATE_LIMIT_HTTP_OPERATIONS: per user, guest or API key, and signed out per address. Reads are
 * what the other limits leave unbounded (a signed-in client could run costly queries back to back),
 * and anonymous requests cost a refusal each. graphql-ws operations are bounded per connection and
 * per user by WS_MAX_OPERATIONS(_PER_USER) instead; the legacy shim's by its own limits.
 */
const EVERY_HTTP_OPERATION: [RateSetting, Key] = [
  'RATE_LIMIT_HTTP_OPERATIONS',
  (_args, ctx) => (ctx.overHttp ? (viewerKey(ctx.viewer) ?? (ctx.clientAddress ? `address:${ctx.clientAddress}` : null)) : null),
];

/** The root fields an operation selects, through fragments, each alias counted. */
function rootFields(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): FieldNode[] {
  const out: FieldNode[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) out.push(selection);
    else if (selection.kind === Kind.INLINE_FRAGMENT) out.push(...rootFields(selection.selectionSet, fragments, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      if (fragment) out.push(...rootFields(fragment.selectionSet, fragments, seen));
    }
  }
  return out;
}

/** What an operation would spend: points per (setting, key). */
function spending(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown>,
  ctx: RateLimitedContext,
): Map<string, { setting: RateSetting; key: string; points: number }> {
  const out = new Map<string, { setting: RateSetting; key: string; points: number }>();
  const [httpSetting, httpKey] = EVERY_HTTP_OPERATION;
  const overHttp = httpKey({}, ctx);
  if (overHttp) out.set(`${httpSetting}\u0000${overHttp}`, { setting: httpSetting, key: overHttp, points: 1 });
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== 'mutation') return out;
  const root = schema.getMutationType() as GraphQLObjectType | null | undefined;
  if (!root) return out;
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d] as const] : [])),
  );
  for (const node of rootFields(operation.selectionSet, fragments)) {
    const field = root.getFields()[node.name.value];
    if (!field) continue;
    const own = RULES[node.name.value];
    let args: Record<string, unknown> = {};
    // Only a field's own rules key by its arguments; the one every mutation spends does not.
    if (own) {
      try {
        args = getArgumentValues(field, node, variables);
      } catch {
        // Bad arguments: execution refuses them itself; the address still counts the attempt.
      }
    }
    for (const [setting, keyOf] of own ? [EVERY_MUTATION, ...own] : [EVERY_MUTATION]) {
      const key = keyOf(args, ctx);
      if (!key) continue;
      const id = `${setting}\u0000${key}`;
      const entry = out.get(id) ?? { setting, key, points: 0 };
      entry.points += 1;
      out.set(id, entry);
    }
  }
  return out;
}

/**
 * Counts each operation's rate-limited fields before it runs (a subscription's when it is
 * started); refuses it whole when one is spent.
 */
export function useRateLimits(limits: RateLimits, logger: Logger): Plugin {
  const before = ({
    args,
    setResultAndStopExecution,
  }: {
    args: ExecutionArgs;
    setResultAndStopExecution: (result: ExecutionResult) => void;
  }): void | Promise<void> => {
    const ctx = args.contextValue as unknown as RateLimitedContext;
    const spend = spending(args.schema, args.document, args.operationName, (args.variableValues ?? {}) as Record<string, unknown>, ctx);
    if (spend.size === 0) return;
    // Every limit is spent, refused or not, and at once: one round trip to Redis (the state
    // connection sends the commands of one turn in one write), not one per limit; none when
    // every counter is known to be far from its limit (RateLimits.consume), and then the
    // operation goes on in this same call.
    const answers = [...spend.values()].map(({ setting, key, points }) => limits.consume(setting, key, points));
    const decide = (settled: (Refusal | null)[]) => {
      let refusal: Refusal | null = null;
      for (const refused of settled) {
        if (refused && (!refusal || (refusal.kind === 'rate' && refused.kind === 'rate' && refused.retryAfterMs > refusal.retryAfterMs))) {
          refusal = refused;
        }
      }
      if (refusal) {
        setResultAndStopExecution({ errors: [refuse(logger, refusal, { address: ctx.clientAddress, operation: args.operationName })] });
      }
    };
    if (answers.some((answer) => answer instanceof Promise)) return Promise.all(answers).then(decide);
    decide(answers as (Refusal | null)[]);
  };
  return { onExecute: before, onSubscribe: before };
}

/** Whom per-user limits count: a user (registered or guest) or an API key; nobody when anonymous. */
export function viewerKey(viewer: Viewer): string | null {
  if (viewer.kind === 'apiKey') return `key:${viewer.apiKeyId}`;
  if (viewer.kind === 'anonymous') return null;
  return viewer.userId;
}
