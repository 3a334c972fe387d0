/**
 * The errors a client can expect. Each is a GraphQLError with `extensions.code`, so it passes
 * Yoga's masking when thrown from a query; mutations list them in `errors.types` and return them
 * as typed members of their result union. Anything else thrown is unexpected: masked for the
 * client ("Unexpected error.") and logged for operators (see transport/http.ts).
 */
import { GraphQLError } from 'graphql';

export const errorCodes = {
  BAD_USER_INPUT: 'The input is invalid; `issues` says which part and why.',
  UNAUTHENTICATED: 'No valid credential was presented; sign in or renew the access token.',
  FORBIDDEN: 'The viewer is known but may not do this.',
  NOT_FOUND: 'No such object, or not one the viewer may see (the two are not told apart).',
  CONFLICT: 'The request clashes with existing data, such as an email already registered.',
  INVALID_CREDENTIALS: 'The email or password is wrong (the two are not told apart).',
  SLOW_CONSUMER: 'A subscriber fell too far behind; resubscribe with the last cursor seen.',
  RATE_LIMITED: 'Too many attempts of this kind; try again after `extensions.retryAfter` seconds (HTTP 429, Retry-After).',
  DEPTH_LIMIT_EXCEEDED: 'The operation nests deeper than the server allows (GRAPHQL_MAX_DEPTH); nothing ran.',
  ALIAS_LIMIT_EXCEEDED: 'The operation has more aliases than the server allows (GRAPHQL_MAX_ALIASES); nothing ran.',
  TOKEN_LIMIT_EXCEEDED: 'The document is longer than the server allows (GRAPHQL_MAX_TOKENS); nothing ran.',
  DIRECTIVE_LIMIT_EXCEEDED: 'The operation has more directives than the server allows (GRAPHQL_MAX_DIRECTIVES); nothing ran.',
  COST_LIMIT_EXCEEDED: 'The operation could return more than the server allows (GRAPHQL_MAX_COST); ask for smaller pages; nothing ran.',
  TOO_MANY_OPERATIONS: 'The WebSocket already runs as many operations as the server allows (WS_MAX_SUBSCRIPTIONS).',
  PERSISTED_QUERY_NOT_FOUND: 'The server accepts only trusted documents, and this is not one of them.',
  SERVICE_UNAVAILABLE: 'The database or pub/sub is unavailable for the moment; nothing was done. Retry shortly (`retryable: true`), with the same clientMessageId for a send.',
} as const;

export type ErrorCode = keyof typeof errorCodes;

export interface ValidationIssue {
  /** Path to the offending input, e.g. ["input", "email"]. */
  path: string[];
  message: string;
}

const httpStatus: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  SERVICE_UNAVAILABLE: 503,
};

/** Base of every expected error. */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    const status = httpStatus[code];
    super(message, { extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) } });
    this.code = code;
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], message?: string) {
    super(
      'BAD_USER_INPUT',
      message ?? `Invalid input: ${issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`,
      { issues },
    );
    this.issues = issues;
  }
}

export class UnauthenticatedError extends AppError {
  constructor(message = 'Sign in first: send an access token or API key in the Authorization header.') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You may not do this.') {
    super('FORBIDDEN', message);
  }
}

export class NotFoundError extends AppError {
  readonly entity: string;
  constructor(entity: string, message?: string) {
    super('NOT_FOUND', message ?? `${entity} not found.`, { entity });
    this.entity = entity;
  }
}

export class ConflictError extends AppError {
  readonly field: string | null;
  constructor(message: string, field: string | null = null) {
    super('CONFLICT', message, field ? { field } : {});
    this.field = field;
  }
}

/**
 * Another agent holds a claim on the conversation (or the message; support's claims, legacy 001): the claim or reply is
 * refused, naming the holder and when the claim lapses unless renewed.
 */
export class ClaimHeldError extends ConflictError {
  readonly holderId: string;
  readonly holderName: string;
  readonly expiresAt: Date;
  readonly messageId: string | null;
  constructor(holder: { id: string; displayName: string }, expiresAt: Date, messageId: string | null) {
    super(
      `${holder.displayName} (${holder.id}) is working on this ${messageId ? 'message' : 'conversation'}; ` +
        `their claim lapses at ${expiresAt.toISOString()} unless renewed.`,
    );
    this.extensions.holderId = holder.id;
    this.extensions.holderName = holder.displayName;
    this.extensions.expiresAt = expiresAt.toISOString();
    this.holderId = holder.id;
    this.holderName = holder.displayName;
    this.expiresAt = expiresAt;
    this.messageId = messageId;
  }
}

export class InvalidCredentialsError extends AppError {
  constructor() {
    super('INVALID_CREDENTIALS', 'The email or password is incorrect.');
  }
}

/**
 * The database or pub/sub is down (an outage, not a bug): the client may retry the same request,
 * and a send retried with the same clientMessageId is stored once. HTTP 503.
 */
export class ServiceUnavailableError extends AppError {
  readonly dependency: string;
  constructor(dependency: 'database' | 'pub/sub') {
    super('SERVICE_UNAVAILABLE', `The ${dependency} is unavailable for the moment; retry shortly.`, { retryable: true, dependency });
    this.dependency = dependency;
  }
}
