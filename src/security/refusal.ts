/**
 * Every refusal by a defense (an operation over a limit, a rate limit, a connection cap) is made
 * here, by {@link refuse}: one place that logs it and that metrics can count.
 */
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { AppError, type ErrorCode } from '../graphql/errors.js';

/** The operation limits, each with the code a client sees and the setting that sets it. */
export const OPERATION_LIMITS = {
  depth: { code: 'DEPTH_LIMIT_EXCEEDED', setting: 'GRAPHQL_MAX_DEPTH' },
  aliases: { code: 'ALIAS_LIMIT_EXCEEDED', setting: 'GRAPHQL_MAX_ALIASES' },
  tokens: { code: 'TOKEN_LIMIT_EXCEEDED', setting: 'GRAPHQL_MAX_TOKENS' },
  directives: { code: 'DIRECTIVE_LIMIT_EXCEEDED', setting: 'GRAPHQL_MAX_DIRECTIVES' },
  cost: { code: 'COST_LIMIT_EXCEEDED', setting: 'GRAPHQL_MAX_COST' },
} as const satisfies Record<string, { code: ErrorCode; setting: string }>;

export type OperationLimit = keyof typeof OPERATION_LIMITS;

/** A refusal: what was refused, and for rate limits when to try again. */
export type Refusal =
  | { kind: 'operation'; limit: OperationLimit; max: number; found?: number }
  | { kind: 'rate'; limit: string; retryAfterMs: number }
  | { kind: 'connection'; limit: string; max: number }
  | { kind: 'body'; max: number }
  | { kind: 'trusted-documents' };

/**
 * The operation-limit refusal an error made by {@link refuse} stands for; null for any other
 * error. A refusal that Yoga's caches answer again (the same document refused before) is counted
 * and logged again from it (document-cache.ts, operation-limits.ts).
 */
export function refusalOf(error: { extensions?: Record<string, unknown> } | null | undefined): Refusal | null {
  const extensions = error?.extensions;
  const limit = extensions?.limit;
  if (typeof limit !== 'string' || !Object.hasOwn(OPERATION_LIMITS, limit)) return null;
  const operationLimit = limit as OperationLimit;
  if (OPERATION_LIMITS[operationLimit].code !== extensions!.code) return null;
  const found = extensions!.found;
  return { kind: 'operation', limit: operationLimit, max: Number(extensions!.max), found: typeof found === 'number' ? found : undefined };
}

/** A rate limit was hit: RATE_LIMITED with `retryAfter` (s); over HTTP, 429 with Retry-After. */
export class RateLimitedError extends AppError {
  readonly retryAfter: number;
  constructor(limit: string, retryAfterMs: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super('RATE_LIMITED', `Too many attempts (${limit}); try again in ${retryAfter} s.`, {
      limit,
      retryAfter,
      http: { status: 429, headers: { 'Retry-After': String(retryAfter) } },
    });
    this.retryAfter = retryAfter;
  }
}

/** Counts refusals by limit (the app's `chat_rate_limit_refusals_total`); see createDefenses. */
export interface RefusalCounter {
  inc(labels: { scope: string }): void;
}

/**
 * Keeps a flood of refusals from becoming a flood of log lines: a client hammering a limit would
 * otherwise buy a warn line (and its disk write) with each refused request, the cheapest thing
 * it can send. Per limit, the first refusal in each window is logged in full; the rest in that
 * window are only counted (the metric counts them all), and the next one logged carries that
 * count (`unlogged`) and when the uncounted run began (`unloggedSince`). The limits are a fixed
 * set, so the state is a few entries whatever clients do.
 */
export class RefusalLog {
  private readonly windows = new Map<string, { openedAt: number; unlogged: number; since: number }>();

  /** `windowMs` 0: every refusal is logged. */
  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether this refusal of `scope` is logged, and if so, how many before it were not (and since when). */
  take(scope: string): { log: false } | { log: true; unlogged: number; since: number } {
    const now = this.now();
    const window = this.windows.get(scope);
    if (window && now - window.openedAt < this.windowMs) {
      if (window.unlogged++ === 0) window.since = now;
      return { log: false };
    }
    this.windows.set(scope, { openedAt: now, unlogged: 0, since: 0 });
    return { log: true, unlogged: window?.unlogged ?? 0, since: window?.since ?? 0 };
  }
}

/**
 * The defenses' logger, carrying the app's refusal counter and its {@link RefusalLog}: every
 * defense is given this one logger by createDefenses, so {@link refuse} counts and logs what it
 * refuses without another parameter.
 */
export type DefensesLogger = Logger & { readonly refusals?: RefusalCounter; readonly refusalLog?: RefusalLog };

/** The limit a refusal names, as the counter's `scope` label. */
export function refusalScope(refusal: Refusal): string {
  if (refusal.kind === 'trusted-documents') return 'TRUSTED_DOCUMENTS_FILE';
  if (refusal.kind === 'body') return 'GRAPHQL_MAX_BODY_BYTES';
  return refusal.limit;
}

let made = 0;

/**
 * How many refusals this process has made so far: a synchronous step (validation) that made none
 * can tell a refusal it was handed from a cache from one it made.
 */
export function refusalsMade(): number {
  return made;
}

/**
 * The one way a defense refuses: logs it (warn, with who was refused; under a flood, the first of
 * each window per limit, see {@link RefusalLog}), counts it by limit, and returns the error the
 * client gets.
 */
export function refuse(logger: DefensesLogger, refusal: Refusal, subject?: Record<string, unknown>): GraphQLError {
  made++;
  const scope = refusalScope(refusal);
  const logged = logger.refusalLog?.take(scope) ?? { log: true, unlogged: 0, since: 0 };
  if (logged.log) {
    const unlogged = logged.unlogged > 0 ? { unlogged: logged.unlogged, unloggedSince: new Date(logged.since).toISOString() } : {};
    logger.warn({ component: 'defenses', refusal, ...subject, ...unlogged }, 'refused');
  }
  logger.refusals?.inc({ scope });
  switch (refusal.kind) {
    case 'operation': {
      const { code, setting } = OPERATION_LIMITS[refusal.limit];
      const found = refusal.found === undefined ? '' : ` (found ${refusal.found})`;
      return new GraphQLError(`The operation exceeds the ${refusal.limit} limit of ${refusal.max}${found}; nothing ran.`, {
        extensions: { code, limit: refusal.limit, max: refusal.max, found: refusal.found, setting, http: { status: 400 } },
      });
    }
    case 'rate':
      return new RateLimitedError(refusal.limit, refusal.retryAfterMs);
    case 'connection':
      return new GraphQLError(`Too many at once (${refusal.limit}: at most ${refusal.max}).`, {
        extensions: { code: 'TOO_MANY_OPERATIONS', limit: refusal.limit, max: refusal.max },
      });
    case 'body':
      return new GraphQLError(
        `The request is larger than ${refusal.max} bytes (GRAPHQL_MAX_BODY_BYTES); nothing ran. Send files as uploads (multipart), not inside the operation.`,
        { extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', limit: 'GRAPHQL_MAX_BODY_BYTES', max: refusal.max, http: { status: 413 } } },
      );
    case 'trusted-documents':
      return new GraphQLError('Only trusted documents may run on this server.', {
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } },
      });
  }
}
