/**
 * The platform: configuration, health, error masking, schema drift and documentation,
 * persistence across restarts, and a clean shutdown of the real `npm start` entry point.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, isEnumType, isInputObjectType, isInterfaceType, isObjectType, isUnionType } from 'graphql';
import WebSocket from 'ws';
import { loadConfig, ConfigError } from '../src/config/env.js';
import { printSchemaSDL, schema } from '../src/graphql/schema.js';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { createTestDatabase, usingPostgres, usingRedis } from './helpers/database.js';

const SignUp = graphql(`
  mutation PlatformSignUp($input: SignUpInput!) {
    signUp(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
      }
    }
  }
`);
const LogIn = graphql(`
  mutation PlatformLogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload {
        user {
          email
        }
      }
    }
  }
`);
const Me = graphql(`
  query PlatformMe {
    me {
      id
    }
  }
`);

describe('configuration', () => {
  it('fails at start naming each bad variable', () => {
    expect(() => loadConfig({ PORT: 'eighty', REDIS_URL: 'localhost:6379' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'localhost:6379' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/REDIS_URL: must be a redis:\/\/ URL/);
    }
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: required/);
  });

  it('has a default for everything a new user needs', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 4000, DATA_DIR: './data', GRAPHIQL: true });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.REDIS_URL).toBeUndefined();
  });
});

describe('schema', () => {
  it('matches the checked-in schema.graphql (run `npm run schema:print` when this fails)', () => {
    expect(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8')).toBe(printSchemaSDL());
  });

  it('describes every type, field, argument and enum value', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || ['String', 'Boolean', 'Int', 'Float', 'ID'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
      if (isUnionType(type)) getNamedType(type);
    }
    expect(missing).toEqual([]);
  });
});

describe('a running server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers /healthz and /readyz with what it checked', async () => {
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { checks: Record<string, string> };
    expect(body.checks.database).toBe('ok');
    if (usingRedis) expect(body.checks.redis).toBe('ok');
    expect(t.app.database.kind).toBe(usingPostgres ? 'postgres' : 'pglite');
    expect(t.app.services.pubsub.kind).toBe(usingRedis ? 'redis' : 'memory');
  });

  it('leaves health to /healthz: Yoga’s built-in check answers no URL, whatever it ends with', async () => {
    // Yoga answers an empty 200 to any URL ending with its health endpoint; it used to be given
    // `false`, which made every URL ending in "false" a health check instead of its operation.
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}&flag=false`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    for (const path of ['/health', '/graphql/health', '/false']) expect((await fetch(`${t.url}${path}`)).status, path).toBe(404);
  });

  it('serves GraphiQL from /graphql to browsers, with its assets bundled', async () => {
    const res = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/GraphiQL|graphiql/);
    expect(html).not.toMatch(/unpkg\.com/);
  });

  it('masks unexpected errors: no stack, no SQL, a generic message', async () => {
    const token = await signUpToken(t);
    // Break the database underneath a running server: what the client sees must not leak it.
    await t.app.services.db.$executeRawUnsafe('ALTER TABLE "User" RENAME TO "User_gone"');
    const res = await t.exec(Me, undefined, { token });
    const text = JSON.stringify(res);
    expect(res.errors?.[0]?.message).toBe('Unexpected error.');
    expect(text).not.toMatch(/prisma|SELECT|stack|at \w+ \(|pglite|postgres/i);
  });
});

async function signUpToken(t: TestApp): Promise<string> {
  const res = await t.exec(SignUp, {
    input: { email: `p-${Date.now()}-${Math.random()}@example.com`, password: 'password-123', displayName: 'P' },
  });
  const payload = res.data!.signUp;
  if (payload.__typename !== 'AuthPayload') throw new Error(JSON.stringify(res));
  return payload.accessToken;
}

describe('restarts', () => {
  it('keeps users across a restart on the same database', async () => {
    const db = await createTestDatabase();
    const first = await startTestApp({}, db);
    const email = `restart-${Date.now()}@example.com`;
    await first.exec(SignUp, { input: { email, password: 'password-123', displayName: 'R' } });
    await first.stop();
    const second = await startTestApp({}, db);
    try {
      const res = await second.exec(LogIn, { input: { email, password: 'password-123' } });
      expect(res.data!.logIn).toMatchObject({ __typename: 'AuthPayload', user: { email } });
    } finally {
      await second.close();
    }
  });
});

describe('npm start', () => {
  it('serves on the embedded defaults, then on SIGTERM closes sockets with 1001 and exits 0', async () => {
    const db = await createTestDatabase();
    const env: Record<string, string | undefined> = { ...process.env, PORT: '0', DATA_DIR: db.dataDir, LOG_LEVEL: 'info' };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    delete env.JWT_SECRET;
    // What `npm start` runs: compile src/ to dist/ if stale, then serve the compiled JavaScript.
    const child = spawn(process.execPath, ['--enable-source-maps', 'scripts/start.mjs'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start line; stderr: ${stderr}`)), 45_000);
        createInterface({ input: child.stdout }).on('line', (line) => {
          const entry = JSON.parse(line) as { url?: string; database?: string; pubsub?: string };
          if (entry.url) {
            clearTimeout(timer);
            expect(entry).toMatchObject({ database: 'pglite', pubsub: 'memory' });
            resolve(entry.url);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);

      const socket = new WebSocket(`${url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await new Promise((resolve) => socket.once('message', resolve));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await closed).toBe(1001);
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await db.drop();
    }
  }, 120_000); // starts a real process: maybe a compile, and a PGlite initdb; slow on a loaded machine
});
