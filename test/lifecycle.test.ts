/**
 * What buildApp starts, stop() stops: an app started and stopped twice in one process leaves no
 * timer, socket, server or process listener behind (counted with process.getActiveResourcesInfo),
 * on whichever setup the run uses (embedded, or PostgreSQL + Redis from the environment).
 */
import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp } from './helpers/app.js';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { createTestDatabase, usingRedis, type TestDatabase } from './helpers/database.js';
import { workspace } from './helpers/fixtures.js';
import { createLogger } from '../src/logger.js';

const CreateRoom = graphql(`
  mutation LifecycleCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const Send = graphql(`
  mutation LifecycleSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        seq
      }
      ... on Error {
        message
      }
    }
  }
`);

const Events = graphql(`
  subscription LifecycleEvents($id: ID!) {
    conversationEvents(conversationId: $id) {
      type
      seq
    }
  }
`);

/**
 * Timers and sockets created since `tracking.enable()` and not yet closed, by async resource type.
 * process.getActiveResourcesInfo() lists only what keeps the event loop alive, and the app unrefs
 * its timers, so they are counted here as they are created and destroyed.
 */
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'UDPWRAP']);
const live = new Map<number, string>();
const tracking = createHook({
  init: (id, type) => void (TRACKED.has(type) && live.set(id, type)),
  destroy: (id) => void live.delete(id),
});

/**
 * What is open, by kind: handles that keep the process alive (Timeout, TCPSocketWrap,
 * TCPServerWrap, …), timers and sockets made since tracking began (ref'd or not), and the
 * process' listeners by event.
 */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  const add = (kind: string, n = 1) => (counts[kind] = (counts[kind] ?? 0) + n);
  for (const kind of process.getActiveResourcesInfo()) add(kind);
  for (const type of live.values()) add(`created: ${type}`);
  for (const event of process.eventNames()) add(`process listener: ${String(event)}`, process.listenerCount(event));
  return counts;
}

/** What runs now beyond `baseline`: kinds with more handles or listeners than then. */
function leftOver(baseline: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(handles())
      .map(([kind, n]) => [kind, n - (baseline[kind] ?? 0)] as const)
      .filter(([, extra]) => extra > 0),
  );
}

/**
 * What is left over once closing has settled: a socket's close callback runs on a later turn,
 * so the count is given up to 10 s to come down.
 */
async function settledLeftOver(baseline: Record<string, number>): Promise<Record<string, number>> {
  const deadline = Date.now() + 10_000;
  let extra = leftOver(baseline);
  while (Object.keys(extra).length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    // On the next turn, when this wait's own timer has been counted as gone.
    await new Promise((r) => setImmediate(r));
    extra = leftOver(baseline);
  }
  return extra;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('lifecycle', () => {
  it('starts and stops an app twice in one process and leaves no timer, socket or listener behind', async () => {
    // The process' logger exists before any app (as in src/main.ts): pino's one exit hook is
    // the process', not an app's.
    const logger = createLogger('silent', 'lifecycle');
    tracking.enable();
    const baseline = handles();
    for (let round = 1; round <= 2; round++) {
      const t = await startTestApp({}, db);
      // Per-app state starts afresh: nothing of the first round's frames is seen by the second.
      expect(t.app.frames).toEqual({ encoded: 0, reused: 0, pushed: 0 });
      try {
        // Exercise what keeps resources: HTTP keep-alive, a WebSocket with a live
        // subscription, a message through the pipeline and its listeners.
        const ws = await workspace(t, { bob: 'AGENT' });
        const bob = ws.people.bob!;
        const room = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: `r${round}`, memberIds: [bob.id] } }, { token: ws.admin.token })).data!
          .createRoom;
        if (room.__typename !== 'Room') throw new Error(JSON.stringify(room));
        const events = collect(t.ws({ token: bob.token }), Events, { id: room.id });
        // Until the subscription is live, a message sent may be missed: send until one arrives.
        for (let i = 0; events.results.length === 0 && i < 50; i++) {
          const sent = (await t.exec(Send, { input: { conversationId: room.id, body: `hello ${i}` } }, { token: ws.admin.token })).data!.sendMessage;
          expect(sent).toMatchObject({ __typename: 'Message' });
          await events.next(1, 200).catch(() => undefined);
        }
        expect(events.results[0]?.data?.conversationEvents).toMatchObject({ type: 'MESSAGE_ADDED' });
        expect(t.app.frames.encoded).toBeGreaterThan(0);
        // Stopped with the subscription still open: the server closes it (1001).
        expect(leftOver(baseline)).toMatchObject({ TCPServerWrap: 1 });
      } finally {
        await t.stop();
      }
      // The client's side of the closed sockets goes too.
      expect(await settledLeftOver(baseline), `left over after stop ${round}`).toEqual({});
    }
    tracking.disable();
    logger.flush();
  }, 120_000);

  it.runIf(usingRedis)('holds three Redis connections per instance (the pub/sub’s two, one for state) and none once stopped', async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    // This instance's connections, by role, as Redis lists them (named `chat:<instance id>:<role>`).
    const roles = async (instanceId: string) =>
      ((await redis.client('LIST')) as string)
        .split('\n')
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
        .filter((name) => name.startsWith(`chat:${instanceId}:`))
        .map((name) => name.slice(`chat:${instanceId}:`.length))
        .sort();
    const t = await startTestApp({}, db);
    try {
      // Exercise every user of Redis: sign-ups and sends (rate limits), a WebSocket (presence,
      // the call worker's "connected anywhere?"), a live subscription (pub/sub).
      const ws = await workspace(t, { bob: 'AGENT' });
      const bob = ws.people.bob!;
      const room = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'redis', memberIds: [bob.id] } }, { token: ws.admin.token })).data!.createRoom;
      if (room.__typename !== 'Room') throw new Error(JSON.stringify(room));
      const events = collect(t.ws({ token: bob.token }), Events, { id: room.id });
      for (let i = 0; events.results.length === 0 && i < 50; i++) {
        await t.exec(Send, { input: { conversationId: room.id, body: `hello ${i}` } }, { token: ws.admin.token });
        await events.next(1, 200).catch(() => undefined);
      }
      expect(events.results.length).toBeGreaterThan(0);
      expect(await t.app.services.presence.read([bob.id])).toMatchObject([{ status: 'ONLINE' }]);
      expect(await roles(t.app.instanceId)).toEqual(['publisher', 'state', 'subscriber']);
    } finally {
      await t.stop();
    }
    // QUIT is answered before Redis drops the connection from its list: give it a moment.
    const deadline = Date.now() + 5000;
    while ((await roles(t.app.instanceId)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await roles(t.app.instanceId)).toEqual([]);
    redis.disconnect();
  }, 60_000);
});

describe('graphql-ws keep-alive', () => {
  it('cuts a socket that answers no ping by the next sweep, and keeps those that answer', async () => {
    const t = await startTestApp({ WS_KEEP_ALIVE_MS: '200' });
    try {
      const ws = await workspace(t);
      // ws answers pings itself unless told not to: this client never does.
      const silent = new WebSocket(t.wsUrl, 'graphql-transport-ws', { autoPong: false });
      await new Promise((resolve, reject) => silent.once('open', resolve).once('error', reject));
      const acknowledged = new Promise((resolve) => silent.once('message', resolve));
      silent.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ws.admin.token}` } }));
      expect(JSON.parse(String(await acknowledged))).toEqual({ type: 'connection_ack' });
      const closed = new Promise<number>((resolve) => silent.once('close', (code: number) => resolve(code)));
      const answering = t.ws({ token: ws.admin.token });
      const typename = () =>
        new Promise<unknown>((resolve, reject) => {
          let last: unknown;
          answering.subscribe({ query: '{ __typename }' }, { next: (v) => (last = v), error: reject, complete: () => resolve(last) });
        });
      expect(await typename()).toEqual({ data: { __typename: 'Query' } });
      // Terminated, not closed: no close frame (1006 on the client's side).
      expect(await closed).toBe(1006);
      // Several sweeps later the socket that answers is still served.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await typename()).toEqual({ data: { __typename: 'Query' } });
      await answering.dispose();
    } finally {
      await t.close();
    }
  });
});

