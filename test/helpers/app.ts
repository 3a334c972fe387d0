/**
 * Starts a real server (HTTP + graphql-ws on a free port) on a fresh database, and talks to it
 * with real clients: fetch for HTTP, graphql-ws over `ws` for subscriptions.
 */
import { randomUUID } from 'node:crypto';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/**
 * Rate limits and caps far above the defaults. Every test connects from 127.0.0.1, and suites
 * sign up many users, send many messages and open many sockets from there as one address: at
 * the production defaults they would trip each other. test/defenses.test.ts sets the limits it
 * exercises explicitly (the defaults, or small ones), overriding these.
 */
export const RELAXED_LIMITS: Record<string, string> = {
  RATE_LIMIT_LOGIN_ACCOUNT: '100000/1',
  RATE_LIMIT_LOGIN_ADDRESS: '100000/1',
  RATE_LIMIT_SIGNUP_ADDRESS: '100000/1',
  RATE_LIMIT_SIGNUP_EMAIL: '100000/1',
  RATE_LIMIT_CONFIRM_SIGNUP_ADDRESS: '100000/1',
  RATE_LIMIT_GUEST_ADDRESS: '100000/1',
  RATE_LIMIT_REFRESH_ADDRESS: '100000/1',
  RATE_LIMIT_SEND_USER: '100000/1',
  RATE_LIMIT_SEND_CONVERSATION: '100000/1',
  RATE_LIMIT_MUTATIONS_USER: '100000/1',
  RATE_LIMIT_HTTP_OPERATIONS: '100000/1',
  RATE_LIMIT_LEGACY_ADDRESS: '100000/1',
  RATE_LIMIT_LEGACY_IDENTITY: '100000/1',
  WS_MAX_CONNECTIONS_PER_ADDRESS: '100000',
  WS_UPGRADES_PER_ADDRESS: '100000/1',
  WS_MAX_CONNECTIONS_PER_USER: '100000',
  WS_MAX_SUBSCRIPTIONS: '100000',
  WS_MAX_OPERATIONS: '100000/1',
  WS_MAX_OPERATIONS_PER_USER: '100000/1',
};

/**
 * Background work that queries the database on timers (support and call sweeps, webhook polls,
 * pub/sub catch-up rounds), pushed far apart: for tests that count SQL statements in a window.
 */
export const QUIET_BACKGROUND: Record<string, string> = {
  SUPPORT_SWEEP_INTERVAL_MS: '3600000',
  CALL_SWEEP_INTERVAL_MS: '600000',
  WEBHOOK_POLL_INTERVAL_MS: '600000',
  CATCH_UP_INTERVAL_MS: '600000',
};

export interface TestApp {
  app: App;
  url: string;
  wsUrl: string;
  db: TestDatabase;
  /** Runs an operation over HTTP; `token` is a JWT or API key. */
  exec<R, V>(
    document: TypedDocumentNode<R, V>,
    variables?: V,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<ExecutionResult<R> & { status: number }>;
  /** A graphql-ws client; `connectionParams` default to the token's authorization. */
  ws(options?: { token?: string; connectionParams?: Record<string, unknown> }): Client;
  /** Stops the server (keeps the database). */
  stop(): Promise<void>;
  /** Stops the server and drops the database. */
  close(): Promise<void>;
}

export async function startTestApp(
  env: Record<string, string> = {},
  existing?: TestDatabase,
  /** The app's logger (default: the test level's, silent unless TEST_LOG_LEVEL says otherwise). */
  logger?: Logger,
): Promise<TestApp> {
  const db = existing ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: db.dataDir,
    DATABASE_URL: db.databaseUrl,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: process.env.REDIS_URL,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Test files share one Redis at once: each app counts under its own prefix (a test that
    // wants two apps to share limits passes the same prefix to both).
    RATE_LIMIT_KEY_PREFIX: `test-rl-${randomUUID()}`,
    ...RELAXED_LIMITS,
    ...env,
  });
  const app = await buildApp(config, { logger: logger ?? createLogger(config.LOG_LEVEL, 'test') });
  const url = await app.start();
  const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
  const clients: Client[] = [];
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(clients.map((c) => c.dispose()));
    await app.stop();
  };

  return {
    app,
    url,
    wsUrl,
    db,
    async exec(document, variables, options = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const body = (await res.json()) as ExecutionResult<never>;
      return { ...body, status: res.status };
    },
    ws(options = {}) {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        lazy: true,
        retryAttempts: 0,
        connectionParams: options.connectionParams ?? (options.token ? { authorization: `Bearer ${options.token}` } : {}),
      });
      clients.push(client);
      return client;
    },
    stop,
    async close() {
      await stop();
      await db.drop();
    },
  };
}

/** Runs one operation over a graphql-ws client and resolves with its first result. */
export function wsOnce<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables?: V): Promise<ExecutionResult<R>> {
  return new Promise((resolve, reject) => {
    let result: ExecutionResult<R> | undefined;
    const dispose = client.subscribe<R>(
      { query: print(document), variables: variables as Record<string, unknown> | undefined },
      {
        next: (value) => {
          result = value as ExecutionResult<R>;
          // Not at once: a mutation's `complete` often arrives in the same chunk as its result,
          // and graphql-ws' client, disposed between the two, releases its lock twice, closing
          // the socket under the client's other subscriptions. By the next turn it has completed.
          setTimeout(dispose, 0);
          resolve(result);
        },
        error: reject,
        complete: () => (result ? resolve(result) : reject(new Error('completed without a result'))),
      },
    );
  });
}

/** Collects a subscription's results until `until` says stop (or the timeout). */
export function collect<R, V>(
  client: Client,
  document: TypedDocumentNode<R, V>,
  variables: V,
): { results: ExecutionResult<R>[]; errors: unknown[]; completed: Promise<void>; dispose: () => void; next(n: number, ms?: number): Promise<ExecutionResult<R>[]> } {
  const results: ExecutionResult<R>[] = [];
  const errors: unknown[] = [];
  const waiters: Array<() => void> = [];
  let resolveCompleted!: () => void;
  const completed = new Promise<void>((r) => (resolveCompleted = r));
  const dispose = client.subscribe<R>(
    { query: print(document), variables: variables as Record<string, unknown> | undefined },
    {
      next: (value) => {
        results.push(value as ExecutionResult<R>);
        waiters.splice(0).forEach((w) => w());
      },
      error: (err) => {
        errors.push(err);
        resolveCompleted();
        waiters.splice(0).forEach((w) => w());
      },
      complete: () => {
        resolveCompleted();
        waiters.splice(0).forEach((w) => w());
      },
    },
  );
  return {
    results,
    errors,
    completed,
    dispose,
    async next(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (results.length < n && errors.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} results, got ${results.length}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      return results.slice(0, n);
    },
  };
}

/** Waits until `check` holds, polling, or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Errors without `extensions.requestId`, which names the request each was answered in: for
 * comparing two answers that must tell the same (e.g. NOT_FOUND for a hidden and a missing id).
 */
export function withoutRequestId(errors: ReadonlyArray<unknown> | undefined): unknown[] | undefined {
  return errors?.map((error) => {
    const { extensions, ...rest } = JSON.parse(JSON.stringify(error)) as { extensions?: Record<string, unknown> };
    if (!extensions) return rest;
    const { requestId: _requestId, ...others } = extensions;
    return { ...rest, extensions: others };
  });
}
