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
  | { kind: 'trusted-documents' };

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
 * The defenses' logger, carrying the app's refusal counter: every defense is given this one
 * logger by createDefenses, so {@link refuse} counts what it refuses without another parameter.
 */
export type DefensesLogger = Logger & { readonly refusals?: RefusalCounter };

/** The limit a refusal names, as the counter's `scope` label. */
export function refusalScope(refusal: Refusal): string {
  return refusal.kind === 'trusted-documents' ? 'TRUSTED_DOCUMENTS_FILE' : refusal.limit;
}

/**
 * The one way a defense refuses: logs it (warn, with who was refused), counts it by limit, and
 * returns the error the client gets.
 */
export function refuse(logger: DefensesLogger, refusal: Refusal, subject?: Record<string, unknown>): GraphQLError {
  logger.warn({ component: 'defenses', refusal, ...subject }, 'refused');
  logger.refusals?.inc({ scope: refusalScope(refusal) });
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
    case 'trusted-documents':
      return new GraphQLError('Only trusted documents may run on this server.', {
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } },
      });
  }
}
