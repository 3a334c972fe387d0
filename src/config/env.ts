/**
 * Every setting the server reads, parsed once by zod. This module is the only reader of
 * `process.env` in src/: everything else receives a typed {@link Config}.
 */
import { z } from 'zod';

/**
 * A rate: "<points>/<seconds>", e.g. "10/60" for 10 in any 60 s. Each attempt spends a point;
 * once spent, the next is refused with RATE_LIMITED until the window frees one (retryAfter).
 */
const rate = z
  .string()
  .regex(/^\d+\/\d+(\.\d+)?$/, 'must be "<points>/<seconds>", e.g. 10/60')
  .transform((v) => {
    const [points, seconds] = v.split('/');
    return { points: Number(points), seconds: Number(seconds) };
  })
  .refine((r) => r.points >= 1 && r.seconds > 0, 'needs at least 1 point and a window over 0 s');

const limit = (fallback: number, description: string) => z.coerce.number().int().min(1).default(fallback).describe(description);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The settings, each with its default; the README's configuration table lists the same. */
export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1').describe('Interface to listen on; 0.0.0.0 for all.'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000).describe('The one HTTP/WebSocket port.'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .optional()
    .describe('PostgreSQL; when unset, the embedded PGlite database in DATA_DIR is used.'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_STATEMENT_CACHE: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(256)
    .describe('Statements kept prepared per PostgreSQL connection; 0 behind PgBouncer in transaction mode (before 1.21).'),
  DATA_DIR: z.string().min(1).default('./data').describe('Where the embedded database and local files live.'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional()
    .describe('Redis for pub/sub between instances; when unset, pub/sub is in-memory.'),
  JWT_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('HMAC key for access tokens. Required in production; generated into DATA_DIR otherwise.'),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(10).max(86_400).default(900),
  REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHIQL: bool.optional().describe('Serve GraphiQL to browsers. Default: on, except in production.'),
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) => (v ?? '*').split(',').map((s) => s.trim()).filter(Boolean))
    .describe('Comma-separated origins allowed by CORS, or * for any (default, refused in production).'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  SUBSCRIPTION_QUEUE_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Events buffered for one subscriber before it is closed as a slow consumer.'),
  UPLOAD_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(25 * 1024 * 1024)
    .describe('Largest file one upload may carry, in bytes; a larger one is refused while it streams.'),
  UPLOAD_MAX_FILES: z.coerce.number().int().min(1).max(100).default(10).describe('Most files one request may carry.'),
  UPLOAD_ALLOWED_TYPES: z
    .string()
    .default(
      'image/*,audio/*,video/*,text/plain,application/pdf,application/zip,application/gzip,application/x-7z-compressed,' +
        'application/x-rar-compressed,application/vnd.rar,application/rtf,application/x-cfb,application/msword,' +
        'application/vnd.ms-excel,application/vnd.ms-powerpoint,application/vnd.openxmlformats-officedocument.*,' +
        'application/vnd.oasis.opendocument.*,application/epub+zip',
    )
    .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
    .describe('Comma-separated content types (as detected from the bytes) uploads may have; `type/*` and `*` match many.'),
  FILE_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(300)
    .describe('How long a signed file URL (for <img src>, no Authorization header) stays valid.'),
  SUPPORT_CLAIM_LEASE_SECONDS: z.coerce
    .number()
    .positive()
    .max(86_400)
    .default(60)
    .describe('How long an agent’s claim on a conversation or message lasts unless renewed.'),
  SUPPORT_SWEEP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(20)
    .default(5000)
    .describe('How often lapsed claims are released and urgency is recomputed as waits grow.'),
  CSAT_RATING_WINDOW_SECONDS: z.coerce
    .number()
    .min(0)
    .max(86_400 * 90)
    .default(604_800)
    .describe('How long after a ticket closes its customer may rate it (CSAT), in seconds; 0 turns ratings off.'),
  LEGACY_API_KEY: z
    .string()
    .regex(/^ck_/, 'must be an API key (ck_…)')
    .optional()
    .describe(
      'API key of the workspace legacy 000, 001 and 003 clients live in; the legacy shim acts with it where those backends had no authentication. Unset: those legacy calls answer 503.',
    ),
  PRESENCE_TTL_SECONDS: z.coerce
    .number()
    .min(0.3)
    .max(3600)
    .default(60)
    .describe('How long a presence mark lasts unless renewed (every third of it): an instance that dies takes its users offline within this.'),
  USERNAME_HOLD_DAYS: z.coerce
    .number()
    .min(0)
    .max(3650)
    .default(30)
    .describe('How long a username its owner changed away from stays reserved for them before anyone else may take it (fractions allowed).'),
  SIGNUP_CONFIRMATION: bool
    .optional()
    .describe(
      'signUp with an email answers one generic SignUpPending whether the address is free or registered, and mails it a confirmation link (free) or an "already registered" notice (taken); confirmSignUp then creates the account. Default: on in production, off otherwise (immediate sign-up).',
    ),
  SIGNUP_CONFIRMATION_TTL_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(24)
    .describe('How long a sign-up confirmation link stays valid, in hours (fractions allowed).'),
  SIGNUP_CONFIRMATION_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe(
      'The frontend page a confirmation link opens; the token is added as ?token=… and the page calls confirmSignUp with it. Default: <first CORS origin>/confirm-sign-up (http://localhost:PORT/confirm-sign-up while CORS_ORIGINS is *).',
    ),
  MAIL_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe(
      'Where mail goes out: each message is POSTed as JSON ({to, subject, text, kind, link}) to this relay (your mail service or provider adapter). Unset: messages are written to the log at info, link included (development).',
    ),
  CALL_RING_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('How long a call rings unanswered before it becomes MISSED.'),
  CALL_SWEEP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5_000)
    .describe(
      'How often each instance sweeps the database for calls whose ring timeout passed or whose party is gone from every instance (restarts, crashed instances).',
    ),
  WS_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(4 * 1024 * 1024)
    .describe('Bytes a WebSocket may have queued but unsent before it is closed as a slow consumer (code 4008).'),
  WS_KEEP_ALIVE_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(12_000)
    .describe('How often graphql-ws sockets are pinged; one that has not answered by the next ping is cut (close 1006).'),

  // Defenses (src/security/; README "Security"). Operation limits apply to HTTP, graphql-ws and
  // the operations the legacy shim runs alike; rate limits count in Redis when REDIS_URL is set.
  GRAPHQL_MAX_DEPTH: limit(12, 'Deepest nesting of fields an operation may have, fragments not counted as levels (DEPTH_LIMIT_EXCEEDED).'),
  GRAPHQL_MAX_ALIASES: limit(30, 'Most aliases in one operation, __typename included (ALIAS_LIMIT_EXCEEDED).'),
  GRAPHQL_MAX_TOKENS: limit(2000, 'Most lexical tokens in one document, counted while parsing (TOKEN_LIMIT_EXCEEDED).'),
  GRAPHQL_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(16 * 1024)
    .default(1024 * 1024)
    .describe(
      'Largest GraphQL request over HTTP (its JSON or GraphQL body) and largest graphql-ws message, in bytes; larger ones are refused unread (HTTP 413 REQUEST_ENTITY_TOO_LARGE, WebSocket close 1009). File uploads (multipart) have their own limits.',
    ),
  GRAPHQL_MAX_DIRECTIVES: limit(50, 'Most directives in one operation (DIRECTIVE_LIMIT_EXCEEDED).'),
  GRAPHQL_MAX_COST: limit(
    100_000,
    'Highest cost of one operation: 1 a field, sub-selections times their page size (first/last) or 10 for other lists (COST_LIMIT_EXCEEDED).',
  ),
  GRAPHQL_INTROSPECTION: bool.optional().describe('Answer introspection (__schema, __type). Default: on, except in production.'),
  GRAPHQL_SUGGESTIONS: bool.optional().describe('"Did you mean …" hints in validation errors. Default: on, except in production.'),
  TRUSTED_DOCUMENTS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A JSON manifest ({ "<hash>": "<document>" } or a list of documents): when set, HTTP and graphql-ws clients may run only these documents (by text or by extensions.persistedQuery.sha256Hash); the legacy shim’s own operations always run.',
    ),
  TRUST_PROXY: bool
    .default(false)
    .describe('Take the client address from the last X-Forwarded-For entry (set when behind a reverse proxy); otherwise the socket address.'),
  LOG_REFUSALS_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(10_000)
    .describe(
      'Per limit, only the first refusal in each window of this many ms is logged; the next one logged says how many were not (the refusals metric counts every one). 0: log every refusal.',
    ),
  RATE_LIMIT_KEY_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/)
    .default('chat:rl')
    .describe('Prefix of the rate-limit counters in Redis; instances that share it share their limits.'),
  RATE_LIMIT_LOGIN_ACCOUNT: rate.prefault('10/300').describe('logIn attempts per account (email), from anywhere; each alias counts.'),
  RATE_LIMIT_LOGIN_ADDRESS: rate.prefault('30/300').describe('logIn attempts per client address; each alias counts.'),
  RATE_LIMIT_SIGNUP_ADDRESS: rate.prefault('20/3600').describe('signUp calls per client address.'),
  RATE_LIMIT_SIGNUP_EMAIL: rate
    .prefault('5/3600')
    .describe('signUp calls per email address asked for, from anywhere: bounds the mail one inbox receives (taken and free addresses alike).'),
  RATE_LIMIT_CONFIRM_SIGNUP_ADDRESS: rate.prefault('30/3600').describe('confirmSignUp calls per client address.'),
  RATE_LIMIT_GUEST_ADDRESS: rate.prefault('60/600').describe('startGuestSession calls per client address.'),
  RATE_LIMIT_REFRESH_ADDRESS: rate.prefault('60/60').describe('refreshSession calls per client address.'),
  RATE_LIMIT_SEND_USER: rate.prefault('50/10').describe('Messages sent (sendMessage, sendAttachment, sendTicketMessage, sendCannedReply, sendThreadMessage) per user or API key.'),
  RATE_LIMIT_SEND_CONVERSATION: rate.prefault('150/10').describe('Messages sent to one conversation, by everyone together.'),
  RATE_LIMIT_HTTP_OPERATIONS: rate
    .prefault('600/10')
    .describe('GraphQL operations over HTTP (queries, mutations, subscriptions) per user, guest or API key; signed out, per client address.'),
  RATE_LIMIT_MUTATIONS_USER: rate
    .prefault('600/60')
    .describe('Mutations of any kind per signed-in user or guest (each root field, aliases too), on every transport; API keys are not counted.'),
  RATE_LIMIT_LEGACY_ADDRESS: rate
    .prefault('1200/60')
    .describe('Legacy REST requests, Socket.IO events and raw-socket frames per client address.'),
  RATE_LIMIT_LEGACY_IDENTITY: rate
    .prefault('600/60')
    .describe('Legacy Socket.IO events and raw-socket frames per legacy identity (user, consumer or token of the socket).'),
  WS_MAX_CONNECTIONS_PER_ADDRESS: limit(200, 'Open WebSockets (graphql-ws and legacy) one client address may hold on one instance.'),
  WS_UPGRADES_PER_ADDRESS: rate
    .prefault('100/10')
    .describe(
      'WebSockets (graphql-ws and legacy) one client address may open on one instance in a window; more are answered 429 with Retry-After before the handshake, so a client reconnecting in a loop costs next to nothing.',
    ),
  WS_MAX_CONNECTIONS_PER_USER: limit(50, 'Open graphql-ws connections one user or API key may hold on one instance.'),
  WS_MAX_SUBSCRIPTIONS: limit(50, 'Operations one graphql-ws connection may have running at once.'),
  WS_MAX_CONCURRENT_EXECUTIONS: limit(
    4,
    'Queries and mutations one graphql-ws connection runs at once; more wait their turn, in the order sent (subscriptions are not counted). A burst from one socket then takes turns with other clients instead of holding the server for all of it at once.',
  ),
  WS_MAX_OPERATIONS: rate.prefault('100/10').describe('Operations one graphql-ws connection may start (each subscribe message).'),
  WS_MAX_OPERATIONS_PER_USER: rate
    .prefault('300/10')
    .describe(
      'Operations one user or API key (a signed-out client: its address) may start over all its graphql-ws connections on this instance. Once spent, its connections are closed with 4429 and a new one is refused at connection_init until the window frees, so reconnecting does not buy a fresh WS_MAX_OPERATIONS.',
    ),
  WS_VIEWER_MAX_AGE_SECONDS: z.coerce
    .number()
    .min(0)
    .max(3_600)
    .default(60)
    .describe(
      'A graphql-ws connection reuses the viewer it authenticated, refreshed when pub/sub announces a change of its memberships, roles or API key; it is also read again from the database after this many seconds, a safety net for an announcement pub/sub lost. 0 reads it on every operation.',
    ),
  CATCH_UP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5_000)
    .describe(
      'With Redis: how often each instance compares the conversations it has live subscribers on with the database and delivers what pub/sub did not ring (one query per interval, plus one read per conversation found behind). It also catches up whenever Redis comes back.',
    ),
  METRICS_ENABLED: bool.default(true).describe('Serve Prometheus metrics at GET /metrics.'),
  WEBHOOK_WORKER: bool
    .default(true)
    .describe('Run the webhook delivery worker on this instance; false for instances that only serve the API (any instance with it delivers what others queued).'),
  WEBHOOK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(120_000)
    .default(10_000)
    .describe('How long one delivery attempt may take, connecting to the last byte of the answer; slower counts as a failure and is retried.'),
  WEBHOOK_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(8)
    .describe('Deliveries one instance has in flight at most (each conversation’s one at a time, in order).'),
  WEBHOOK_MAX_ATTEMPTS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(12)
    .describe('Failed attempts after which a delivery is parked (redeliverWebhook sends it again).'),
  WEBHOOK_RETRY_BASE_MS: z.coerce
    .number()
    .int()
    .min(1)
    .default(5_000)
    .describe('Wait before the first retry; doubled for each further one (with jitter: each wait is drawn between half and all of it).'),
  WEBHOOK_RETRY_MAX_MS: z.coerce
    .number()
    .int()
    .min(1)
    .default(6 * 3_600_000)
    .describe('Longest wait between two attempts.'),
  WEBHOOK_POLL_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(600_000)
    .default(1_000)
    .describe('How often an idle worker looks for due deliveries (one indexed query): the longest an event waits before its first attempt. It also looks at once after each attempt.'),
  WEBHOOK_RETENTION_DAYS: z.coerce
    .number()
    .min(0.001)
    .max(3650)
    .default(30)
    .describe('How long events and their delivery log are kept; older ones are pruned hourly, unless a delivery of theirs is still pending.'),
  WEBHOOK_ALLOW_LOOPBACK: bool
    .default(false)
    .describe('Allow webhook endpoints on loopback addresses (127.0.0.0/8, ::1), for tests and local development. Private, link-local and other non-public ranges stay refused.'),
});

type Parsed = z.infer<typeof envSchema>;
/** The settings as the server uses them: defaults that depend on NODE_ENV resolved. */
export type Config = Omit<Parsed, 'GRAPHIQL' | 'GRAPHQL_INTROSPECTION' | 'GRAPHQL_SUGGESTIONS' | 'SIGNUP_CONFIRMATION' | 'SIGNUP_CONFIRMATION_URL'> & {
  GRAPHIQL: boolean;
  SIGNUP_CONFIRMATION: boolean;
  SIGNUP_CONFIRMATION_URL: string;
  GRAPHQL_INTROSPECTION: boolean;
  GRAPHQL_SUGGESTIONS: boolean;
};
/** A "<points>/<seconds>" rate setting, parsed. */
export type Rate = Parsed['RATE_LIMIT_LOGIN_ACCOUNT'];

/** Thrown when a setting is invalid; its message names every bad variable and what it must be. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses settings from an environment (by default `process.env`). Empty strings count as unset,
 * so `FOO= npm start` falls back to the default rather than failing.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration; fix these environment variables:\n${lines.join('\n')}`);
  }
  const config = parsed.data;
  const production = config.NODE_ENV === 'production';
  if (production && !config.JWT_SECRET) {
    throw new ConfigError(
      'Invalid configuration; fix these environment variables:\n  JWT_SECRET: required when NODE_ENV=production (at least 32 characters)',
    );
  }
  // Browsers send cookies and credentials only to origins named here; * would let any site in.
  if (production && (input.CORS_ORIGINS === undefined || config.CORS_ORIGINS.includes('*'))) {
    throw new ConfigError(
      'Invalid configuration; fix these environment variables:\n  CORS_ORIGINS: required when NODE_ENV=production: the origins of your frontends, comma-separated (not *)',
    );
  }
  // What helps a developer explore the API also helps an attacker map it: off in production
  // unless asked for.
  return {
    ...config,
    GRAPHIQL: config.GRAPHIQL ?? !production,
    GRAPHQL_INTROSPECTION: config.GRAPHQL_INTROSPECTION ?? !production,
    GRAPHQL_SUGGESTIONS: config.GRAPHQL_SUGGESTIONS ?? !production,
    // A public service must not tell who is registered; development, tests and benchmarks keep
    // the immediate sign-up (no mailbox to click a link in).
    SIGNUP_CONFIRMATION: config.SIGNUP_CONFIRMATION ?? production,
    SIGNUP_CONFIRMATION_URL: config.SIGNUP_CONFIRMATION_URL ?? defaultConfirmationUrl(config.CORS_ORIGINS, config.PORT),
  };
}

/** The frontend's page: in production CORS_ORIGINS names the frontends, the first is taken. */
function defaultConfirmationUrl(origins: string[], port: number): string {
  const origin = origins.find((o) => o !== '*') ?? `http://localhost:${port}`;
  return `${origin.replace(/\/+$/, '')}/confirm-sign-up`;
}
