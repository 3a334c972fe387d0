/**
 * A server with the legacy shim configured: a workspace, its admin, and an API key given to the
 * shim as LEGACY_API_KEY (set at start, so the server is started again with it on the same
 * database; the admin's token stays valid as the JWT secret is the same).
 */
import WebSocket from 'ws';
import { graphql } from '../gql/index.js';
import { startTestApp, type TestApp } from './app.js';
import { createTestDatabase } from './database.js';
import { workspace, type Person } from './fixtures.js';

const IssueKey = graphql(`
  mutation LegacyHelperIssueKey($workspaceId: ID!) {
    issueApiKey(input: { workspaceId: $workspaceId, name: "legacy shim" }) {
      __typename
      ... on IssuedApiKey {
        secret
      }
      ... on Error {
        message
      }
    }
  }
`);

export interface LegacyApp {
  t: TestApp;
  workspaceId: string;
  admin: Person;
  apiKey: string;
}

export async function startLegacyApp(env: Record<string, string> = {}): Promise<LegacyApp> {
  const db = await createTestDatabase();
  const first = await startTestApp(env, db);
  const ws = await workspace(first);
  const issued = await first.exec(IssueKey, { workspaceId: ws.id }, { token: ws.admin.token });
  const key = issued.data?.issueApiKey;
  if (key?.__typename !== 'IssuedApiKey') throw new Error(`issueApiKey: ${JSON.stringify(issued)}`);
  await first.stop();
  const t = await startTestApp({ ...env, LEGACY_API_KEY: key.secret }, db);
  return { t, workspaceId: ws.id, admin: ws.admin, apiKey: key.secret };
}

/** A raw WebSocket of a legacy protocol, read frame by frame as JSON. */
export interface LegacySocketClient {
  socket: WebSocket;
  send(frame: unknown): void;
  /** The next frame (waits up to `ms`). */
  next(ms?: number): Promise<Record<string, unknown>>;
  /** Frames received and not read yet. */
  pending: Array<Record<string, unknown>>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** `headers` go with the upgrade request (an `X-Forwarded-For` for a server with TRUST_PROXY, say). */
export function openLegacySocket(url: string, headers?: Record<string, string>): Promise<LegacySocketClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const pending: Array<Record<string, unknown>> = [];
    const waiters: Array<(frame: Record<string, unknown>) => void> = [];
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      socket.once('close', (code, reason) => r({ code, reason: String(reason) })),
    );
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>;
      const waiter = waiters.shift();
      if (waiter) waiter(frame);
      else pending.push(frame);
    });
    socket.once('error', reject);
    socket.once('open', () =>
      resolve({
        socket,
        pending,
        closed,
        send: (frame) => socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
        close: () => socket.close(),
        next: (ms = 10_000) =>
          pending.length
            ? Promise.resolve(pending.shift()!)
            : new Promise((res, rej) => {
                const timer = setTimeout(() => rej(new Error(`no frame within ${ms} ms`)), ms);
                waiters.push((frame) => {
                  clearTimeout(timer);
                  res(frame);
                });
              }),
      }),
    );
  });
}
