/**
 * Legacy 004 through the shim, with the clients its users have: fetch for REST, ws for the
 * socket; shapes as in the document's own examples.
 *
 * The socket completes its handshake once its subscription is live, so a test may act as soon as
 * `open` fires. "Nothing else came" is shown by a sentinel: a later message that must be next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { startTestApp, wsOnce, type TestApp } from './helpers/app.js';
import { person, workspace, type Person } from './helpers/fixtures.js';

const AddMember = graphql(`
  mutation C004AddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
    }
  }
`);

const OpenDirect = graphql(`
  mutation C004OpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
      }
    }
  }
`);

const Send = graphql(`
  mutation C004Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
      }
    }
  }
`);

let t: TestApp;
let workspaceId: string;
let admin: Person;
let alice: Person;
let bob: Person;

beforeAll(async () => {
  t = await startTestApp();
  const ws = await workspace(t, { alice: 'AGENT', bob: 'CLIENT' });
  workspaceId = ws.id;
  admin = ws.admin;
  alice = ws.people.alice!;
  bob = ws.people.bob!;
});
afterAll(async () => {
  await t?.close();
});

/** A new member of the workspace (a CLIENT), for a thread no one has opened yet. */
async function newcomer(app: TestApp, wsId: string, adminToken: string, tag: string): Promise<Person> {
  const p = await person(app, tag);
  const added = await app.exec(AddMember, { input: { workspaceId: wsId, email: p.email, role: 'CLIENT' } }, { token: adminToken });
  expect(added.data?.addWorkspaceMember.__typename).toBe('Membership');
  return p;
}

function get(path: string, token?: string, app = t) {
  return fetch(`${app.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

interface LegacySocket {
  socket: WebSocket;
  next(): Promise<Record<string, unknown>>;
  send(payload: unknown): void;
}

function open(token: string, app = t): Promise<LegacySocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${app.url.replace('http', 'ws')}/ws/chat/room/?token=${token}`);
    const messages: Record<string, unknown>[] = [];
    const waiters: Array<(m: Record<string, unknown>) => void> = [];
    socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      const w = waiters.shift();
      if (w) w(m);
      else messages.push(m);
    });
    socket.once('open', () =>
      resolve({
        socket,
        send: (payload) => socket.send(JSON.stringify(payload)),
        next: () =>
          messages.length
            ? Promise.resolve(messages.shift()!)
            : new Promise((r, j) => {
                const timer = setTimeout(() => j(new Error('no message')), 10_000);
                waiters.push((m) => {
                  clearTimeout(timer);
                  r(m);
                });
              }),
      }),
    );
    socket.once('error', reject);
  });
}

async function history(of: string, token: string, app = t): Promise<Array<Record<string, unknown>>> {
  const res = await get(`/chat/messages/${of}/`, token, app);
  expect(res.status).toBe(200);
  return ((await res.json()) as { entity: { messages: Array<Record<string, unknown>> } }).entity.messages;
}

const failure = (message: string | RegExp) => ({ status: 'failure', entity: null, message: typeof message === 'string' ? message : expect.stringMatching(message), success: false });

// ---------------------------------------------------------------------------------------------

describe('legacy 004 messages', () => {
  it('delivers chat_message as re_message and lists it in the documented shapes', async () => {
    const bobSocket = await open(bob.token);
    const aliceSocket = await open(alice.token);
    const empty = await (await get(`/chat/messages/${bob.id}/`, alice.token)).json();
    expect(empty).toEqual({ status: 'success', entity: { messages: [] }, message: 'Messages retreived successfully', success: true });

    aliceSocket.send({ action: 'chat_message', message_body: 'hello there', receiver_id: bob.id });
    const received = await bobSocket.next();
    expect(received).toEqual({
      message_body: 'hello there',
      sender_id: alice.id,
      receiver_id: bob.id,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/),
      created_msg_id: expect.any(String),
      action: 're_message',
    });

    const listed = await history(alice.id, bob.token);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: received.created_msg_id,
      // Emails follow the product's rule (the viewer's own, or staff's view): Bob, a client, does
      // not see Alice's (docs/legacy-mapping.md).
      sender: { id: alice.id, email: null, profile: null },
      receiver: { id: bob.id, email: bob.email, profile: null },
      attached_file_size: '0kb',
      message: 'hello there',
      seen: false,
      deleted: false,
      attached_file: null,
      attached_file_name: null,
    });
    expect(listed[0]!.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const threads = (await (await get('/chat/get-user-threads/', alice.token)).json()) as { entity: Array<Record<string, unknown>>; success: boolean };
    expect(threads.success).toBe(true);
    expect(threads.entity[0]).toMatchObject({ user_one: { profile: null }, user_two: { profile: null } });
    aliceSocket.socket.close();
    bobSocket.socket.close();
  });

  it('follows threads opened after the socket connected, each message once', async () => {
    const bobSocket = await open(bob.token);
    const dan = await newcomer(t, workspaceId, admin.token, 'dan');
    const danSocket = await open(dan.token);
    // Dan's first message opens the thread and is sent at once: Bob's socket hears of the thread
    // and of the message in whichever order, and shows the message once.
    danSocket.send({ action: 'chat_message', message_body: 'first, in a new thread', receiver_id: bob.id });
    danSocket.send({ action: 'chat_message', message_body: 'second', receiver_id: bob.id });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'first, in a new thread', sender_id: dan.id, receiver_id: bob.id });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'second', sender_id: dan.id });

    // A thread opened over REST (GET messages opens it) with no message yet, then written to.
    const erin = await newcomer(t, workspaceId, admin.token, 'erin');
    expect(await history(bob.id, erin.token)).toEqual([]);
    const erinSocket = await open(erin.token);
    erinSocket.send({ action: 'chat_message', message_body: 'from erin', receiver_id: bob.id });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'from erin', sender_id: erin.id });
    // The sender's own socket is not sent its message: its next frame is the answer to this.
    erinSocket.send({ action: 'ping' });
    expect(await erinSocket.next()).toEqual({ action: 'error', message: 'Unknown action: ping' });
    for (const s of [bobSocket, danSocket, erinSocket]) s.socket.close();
  });

  it('reads, by seq, messages sent before its inbox followed a new thread', async () => {
    // The race this covers (a thread's first messages published before the receiver's inbox,
    // told of the thread, follows it) is too quick to catch in a test, so it is set up: a thread
    // whose opening was never announced, two messages in it that Bob's inbox cannot hear, then
    // the announcement, with the lastSeq it had when the thread opened.
    const bobSocket = await open(bob.token);
    const gail = await newcomer(t, workspaceId, admin.token, 'gail');
    const { db, pubsub } = t.app.services;
    const thread = await db.conversation.create({
      data: {
        workspaceId,
        kind: 'THREAD',
        direct: true,
        uniqueKey: `direct:${[gail.id, bob.id].sort().join(':')}`,
        createdById: gail.id,
        members: { create: [{ userId: gail.id, role: 'OWNER' }, { userId: bob.id }] },
      },
      select: { id: true },
    });
    for (const body of ['unheard one', 'unheard two']) {
      const sent = await t.exec(Send, { input: { conversationId: thread.id, body } }, { token: gail.token });
      expect(sent.data?.sendMessage.__typename).toBe('Message');
    }
    await pubsub.publish('inbox', bob.id, { type: 'CONVERSATION_ADDED', conversationId: thread.id, lastSeq: 0, unreadCount: 0, at: new Date().toISOString() });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'unheard one', sender_id: gail.id });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'unheard two', sender_id: gail.id });
    // From then on, live, once.
    await t.exec(Send, { input: { conversationId: thread.id, body: 'heard' } }, { token: gail.token });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'heard', sender_id: gail.id });
    await t.exec(Send, { input: { conversationId: thread.id, body: 'sentinel' } }, { token: gail.token });
    expect(await bobSocket.next()).toMatchObject({ action: 're_message', message_body: 'sentinel' });
    bobSocket.socket.close();
  });

  it('delivers to the legacy socket a message sent by a graphql-ws client', async () => {
    const bobSocket = await open(bob.token);
    const opened = await t.exec(OpenDirect, { workspaceId, userId: bob.id }, { token: admin.token });
    const thread = opened.data!.openDirectThread;
    expect(thread.__typename).toBe('Thread');
    const client = t.ws({ token: admin.token });
    const sent = await wsOnce(client, Send, { input: { conversationId: (thread as { id: string }).id, body: 'over graphql-ws' } });
    expect(sent.data?.sendMessage.__typename).toBe('Message');
    expect(await bobSocket.next()).toEqual({
      message_body: 'over graphql-ws',
      sender_id: admin.id,
      receiver_id: bob.id,
      timestamp: expect.any(String),
      created_msg_id: (sent.data!.sendMessage as { id: string }).id,
      action: 're_message',
    });
    bobSocket.socket.close();
  });

  it('answers bad input the legacy way and keeps the socket open', async () => {
    const missing = await get('/chat/messages/8a0c0d3e-1111-4222-8333-944455556666/', alice.token);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual(failure('Invalid receipient'));
    const anonymous = await get(`/chat/messages/${bob.id}/`);
    expect(anonymous.status).toBe(401);
    const s = await open(alice.token);
    s.socket.send('{not json');
    expect(await s.next()).toMatchObject({ action: 'error', message: 'Malformed JSON' });
    s.socket.send('null');
    expect(await s.next()).toMatchObject({ action: 'error', message: 'Malformed JSON' });
    s.send({ action: 'dance' });
    expect(await s.next()).toMatchObject({ action: 'error' });
    s.send({ action: 'chat_message', message_body: 'x', receiver_id: 'nobody' });
    expect(await s.next()).toMatchObject({ action: 'error', message: 'Invalid receipient' });
    expect(s.socket.readyState).toBe(WebSocket.OPEN);
    s.socket.close();
    const bad = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${t.url.replace('http', 'ws')}/ws/chat/room/?token=forged`);
      socket.on('close', (code) => resolve(code));
    });
    expect(bad).toBe(4401);
  });
});
