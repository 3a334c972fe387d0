/**
 * Presence over real graphql-ws connections: online while connected, away by mutation, offline
 * when the last connection closes or the marks lapse; who may see whom; and, with Redis, two
 * instances that agree.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { usingRedis } from './helpers/database.js';
import { guest, workspace, type Person } from './helpers/fixtures.js';

const Presence = graphql(`
  query PresPresence($workspaceId: ID!, $userIds: [ID!]!) {
    presence(workspaceId: $workspaceId, userIds: $userIds) {
      userId
      status
      lastSeenAt
    }
  }
`);

const SetPresence = graphql(`
  mutation PresSet($status: PresenceStatus!) {
    setPresence(status: $status) {
      __typename
      ... on UserPresence {
        userId
        status
      }
      ... on Error {
        code
      }
    }
  }
`);

const Events = graphql(`
  subscription PresEvents($workspaceId: ID!) {
    presenceEvents(workspaceId: $workspaceId) {
      userId
      status
      lastSeenAt
    }
  }
`);

const CreateRoom = graphql(`
  mutation PresCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
    }
  }
`);

const Chatbot = graphql(`
  query PresChatbot($workspaceId: ID!, $adminId: ID) {
    chatbotSettings(workspaceId: $workspaceId, adminId: $adminId) {
      adminStatus
    }
  }
`);

const SaveChatbot = graphql(`
  mutation PresSaveChatbot($workspaceId: ID!) {
    updateChatbotSettings(input: { workspaceId: $workspaceId, name: "Bot" }) {
      __typename
    }
  }
`);

// A short TTL, so that marks renew (and lapse) within a test.
const TTL_SECONDS = 1;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ PRESENCE_TTL_SECONDS: String(TTL_SECONDS) });
});
afterAll(async () => {
  await t?.close();
});

type Sub = ReturnType<typeof watch>;

function watch(client: Client, workspaceId: string) {
  return collect(client, Events, { workspaceId });
}

function statuses(sub: Sub, userId: string): string[] {
  return sub.results.map((r) => r.data?.presenceEvents).filter((e) => e?.userId === userId).map((e) => e!.status);
}

async function eventually(check: () => void | Promise<void>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Watches a workspace as `who` and resolves once the watch is live (their own setPresence came through). */
async function liveWatch(who: Person, workspaceId: string): Promise<{ client: Client; sub: Sub }> {
  const client = t.ws({ token: who.token });
  const sub = watch(client, workspaceId);
  await eventually(async () => {
    await t.exec(SetPresence, { status: 'ONLINE' }, { token: who.token });
    await eventually(() => expect(statuses(sub, who.id)).not.toEqual([]), 300);
  });
  return { client, sub };
}

async function statusOf(viewer: Person, workspaceId: string, userId: string) {
  const res = await t.exec(Presence, { workspaceId, userIds: [userId] }, { token: viewer.token });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.presence[0]!;
}

describe('presence', () => {
  it('is ONLINE while connected, AWAY by mutation, and OFFLINE once the last connection closes', async () => {
    const ws = await workspace(t, { bob: 'AGENT' });
    const bob = ws.people.bob!;
    const { sub } = await liveWatch(ws.admin, ws.id);
    expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('OFFLINE');

    const first = t.ws({ token: bob.token });
    const second = t.ws({ token: bob.token });
    watch(first, ws.id);
    watch(second, ws.id);
    await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE']));
    expect(await statusOf(ws.admin, ws.id, bob.id)).toMatchObject({ status: 'ONLINE', lastSeenAt: expect.any(String) });

    const away = await t.exec(SetPresence, { status: 'AWAY' }, { token: bob.token });
    expect(away.data!.setPresence).toEqual({ __typename: 'UserPresence', userId: bob.id, status: 'AWAY' });
    await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'AWAY']));
    // Renewing the marks keeps AWAY for as long as bob is connected.
    await new Promise((r) => setTimeout(r, TTL_SECONDS * 1500));
    expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('AWAY');

    await first.dispose();
    await new Promise((r) => setTimeout(r, 200));
    expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('AWAY');
    await second.dispose();
    await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'AWAY', 'OFFLINE']));
    const gone = await statusOf(ws.admin, ws.id, bob.id);
    expect(gone.status).toBe('OFFLINE');
    expect(Date.now() - Date.parse(gone.lastSeenAt!)).toBeLessThan(60_000);

    // Back again: ONLINE, not the AWAY of before.
    watch(t.ws({ token: bob.token }), ws.id);
    await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'AWAY', 'OFFLINE', 'ONLINE']));
    expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('ONLINE');
  });

  it('goes OFFLINE on its own when the instance holding the connection stops renewing it', async () => {
    const ws = await workspace(t, { carol: 'CLIENT' });
    const carol = ws.people.carol!;
    const { sub } = await liveWatch(ws.admin, ws.id);
    // Another instance marked carol live, then died: nothing renews the mark.
    await t.app.services.presence.store.beat('instance-that-died', [{ userId: carol.id, places: [{ workspaceId: ws.id, staff: false }] }], 1000);
    expect((await statusOf(ws.admin, ws.id, carol.id)).status).toBe('ONLINE');
    await eventually(() => expect(statuses(sub, carol.id)).toEqual(['OFFLINE']));
    expect((await statusOf(ws.admin, ws.id, carol.id)).status).toBe('OFFLINE');
  });

  it('shows customers the staff and those they share a conversation with, and nobody else', async () => {
    const ws = await workspace(t, { bob: 'AGENT', carol: 'CLIENT', dan: 'CLIENT', erin: 'CLIENT' });
    const { bob, carol, dan, erin } = ws.people as Record<string, Person>;
    await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Shared', memberIds: [carol!.id, dan!.id] } }, { token: bob!.token });
    const visitor = await guest(t, ws.id, `presence-visitor-${Date.now()}`);

    const res = await t.exec(Presence, { workspaceId: ws.id, userIds: [ws.admin.id, bob!.id, dan!.id, carol!.id] }, { token: carol!.token });
    expect(res.data!.presence.map((p) => p.userId)).toEqual([ws.admin.id, bob!.id, dan!.id, carol!.id]);
    const hidden = await t.exec(Presence, { workspaceId: ws.id, userIds: [bob!.id, erin!.id] }, { token: carol!.token });
    expect(hidden.errors![0]).toMatchObject({ message: 'User not found.', extensions: { code: 'NOT_FOUND' } });
    const byVisitor = await t.exec(Presence, { workspaceId: ws.id, userIds: [carol!.id] }, { token: visitor.token });
    expect(byVisitor.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
    expect((await statusOf(visitor, ws.id, ws.admin.id)).status).toBeDefined();
    expect((await statusOf(bob!, ws.id, visitor.id)).status).toBe('OFFLINE');
    const tooMany = await t.exec(Presence, { workspaceId: ws.id, userIds: Array.from({ length: 101 }, () => bob!.id) }, { token: bob!.token });
    expect(tooMany.errors![0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
    const other = await workspace(t);
    const foreign = await t.exec(Presence, { workspaceId: ws.id, userIds: [bob!.id] }, { token: other.admin.token });
    expect(foreign.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });

    // Live, too: carol hears bob and dan, not erin.
    const { sub } = await liveWatch(carol!, ws.id);
    for (const p of [erin!, dan!, bob!]) watch(t.ws({ token: p.token }), ws.id);
    await eventually(() => expect(statuses(sub, bob!.id)).toContain('ONLINE'));
    await eventually(() => expect(statuses(sub, dan!.id)).toContain('ONLINE'));
    expect(statuses(sub, erin!.id)).toEqual([]);
  });

  it('tells a website widget whether the chatbot’s admin is there', async () => {
    const ws = await workspace(t);
    await t.exec(SaveChatbot, { workspaceId: ws.id }, { token: ws.admin.token });
    const visitor = await guest(t, ws.id, `presence-widget-${Date.now()}`);
    const status = async () => (await t.exec(Chatbot, { workspaceId: ws.id, adminId: ws.admin.id }, { token: visitor.token })).data!.chatbotSettings!.adminStatus;
    expect(await status()).toBe('OFFLINE');
    const client = t.ws({ token: ws.admin.token });
    watch(client, ws.id);
    await eventually(async () => expect(await status()).toBe('ONLINE'));
    await client.dispose();
    await eventually(async () => expect(await status()).toBe('OFFLINE'));
  });

  it('refuses OFFLINE as a choice, and callers who are not a person', async () => {
    const ws = await workspace(t);
    const offline = await t.exec(SetPresence, { status: 'OFFLINE' }, { token: ws.admin.token });
    expect(offline.data!.setPresence).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const anonymous = await t.exec(SetPresence, { status: 'AWAY' });
    expect(anonymous.data!.setPresence).toMatchObject({ __typename: 'UnauthenticatedError' });
    expect((await statusOf(ws.admin, ws.id, ws.admin.id)).status).toBe('OFFLINE');
  });

  it.skipIf(!usingRedis)('agrees between two instances sharing Redis', async () => {
    const other = await startTestApp({ PRESENCE_TTL_SECONDS: String(TTL_SECONDS) }, t.db);
    try {
      const ws = await workspace(t, { bob: 'AGENT' });
      const bob = ws.people.bob!;
      const { sub } = await liveWatch(ws.admin, ws.id);
      // bob connects to the other instance only.
      const client = other.ws({ token: bob.token });
      collect(client, Events, { workspaceId: ws.id });
      await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE']));
      expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('ONLINE');
      // The same marks answer "connected anywhere" (what calls and support claims ask), on both
      // instances: bob is connected to the other one, the admin (watching) to this one.
      expect(await t.app.services.presence.connectedAmong([bob.id, ws.admin.id])).toEqual(new Set([bob.id, ws.admin.id]));
      expect(await other.app.services.presence.connectedAmong([bob.id, ws.admin.id])).toEqual(new Set([bob.id, ws.admin.id]));
      await client.dispose();
      await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'OFFLINE']));
      expect((await statusOf(ws.admin, ws.id, bob.id)).status).toBe('OFFLINE');
      expect(await t.app.services.presence.connectedAmong([bob.id])).toEqual(new Set());
      expect(await other.app.services.presence.connectedAmong([bob.id])).toEqual(new Set());
      // An instance that shuts down takes its users offline on its way out.
      collect(other.ws({ token: bob.token }), Events, { workspaceId: ws.id });
      await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE']));
      await other.stop();
      await eventually(() => expect(statuses(sub, bob.id)).toEqual(['ONLINE', 'OFFLINE', 'ONLINE', 'OFFLINE']));
    } finally {
      await other.stop();
    }
  });
});
