/**
 * Every setting the server reads, parsed once by zod. This module is the only reader of
 * `process.env` in src/: everything else receives a typed {@link Config}.
 */
import { z } from 'zod';

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
  GRAPHIQL: bool.default(true),
  CORS_ORIGINS: z
    .string()
    .default('*')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .describe('Comma-separated origins allowed by CORS, or * for any.'),
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
});

export type Config = z.infer<typeof envSchema>;

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
  if (config.NODE_ENV === 'production' && !config.JWT_SECRET) {
    throw new ConfigError(
      'Invalid configuration; fix these environment variables:\n  JWT_SECRET: required when NODE_ENV=production (at least 32 characters)',
    );
  }
  return config;
}
