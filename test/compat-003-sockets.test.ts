/**
 * Legacy 003's sockets through the shim, with `ws` as its clients used them:
 * `ws/room/<admin_username>` (fetch_rooms, new_room, room_exists) and
 * `ws/chat/<admin_username>/<consumer_id>` (fetch_messages, new_message), following the
 * document's frames and shapes; and the same rooms seen from GraphQL, both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { openLegacySocket, startLegacyApp, type LegacyApp, type LegacySocketClient } from './helpers/legacy.js';

const AddMember = graphql(`
  mutation Compat003AddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
    }
  }
`);

const ChatbotRooms = graphql(`
  query Compat003Rooms($workspaceId: ID!, $adminId: ID!) {
    rooms(workspaceId: $workspaceId, roomType: CHATBOT, memberId: $adminId, first: 100) {
      nodes {
        id
        messages(last: 10) {
          nodes {
            body
            author {
              id
            }
          }
        }
      }
    }
  }
`);

const Events = graphql(`
  subscription Compat003Events($conversationId: ID!, $after: Int) {
    conversationEvents(conversationId: $conversationId, after: $after) {
      type
      message {
        body
        author {
          id
          kind
        }
      }
    }
  }
`);

const Send = graphql(`
  mutation Compat003Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
    }
  }
`);

let L: LegacyApp;
const open: LegacySocketClient[] = [];
const MICRO_OFFSET = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/;

beforeAll(async () => {
  L = await startLegacyApp();
});
afterAll(async () => {
  for (const s of open) s.close();
  await L?.t.close();
});

/** A legacy 003 admin: signed up by username, then made an ADMIN of the legacy workspace. */
async function legacyAdmin(t: TestApp, greeting?: string): Promise<{ username: string; token: string; id: string }> {
  const username = `ann${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const body = new FormData();
  body.append('username', username);
  body.append('password', 'secret-pass-1');
  const signup = (await (await fetch(`${t.url}/accounts/api/signup`, { method: 'POST', body })).json()) as { token: string; user_id: string };
  // A legacy username is the account's username (docs/legacy-mapping.md).
  const added = await t.exec(AddMember, { input: { workspaceId: L.workspaceId, username, role: 'ADMIN' } }, { token: L.admin.token });
  expect(added.data?.addWorkspaceMember.__typename).toBe('Membership');
  if (greeting) {
    const saved = await fetch(`${t.url}/chatbot/api`, {
      method: 'POST',
      headers: { authorization: `Token ${signup.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ greeting }),
    });
    expect(saved.status).toBe(200);
  }
  return { username, token: signup.token, id: signup.user_id };
}

async function socket(t: TestApp, path: string): Promise<LegacySocketClient> {
  const s = await openLegacySocket(`${t.url.replace(/^http/, 'ws')}${path}`);
  open.push(s);
  return s;
}

describe('legacy 003 sockets', () => {
  it('lists an admin’s rooms, tells them of a visitor’s new room, and answers room_exists after', async () => {
    const admin = await legacyAdmin(L.t, 'Welcome to Ann’s shop!');
    const panel = await socket(L.t, `/ws/room/${admin.username}`);
    panel.send({ command: 'fetch_rooms' });
    expect(await panel.next()).toEqual({ command: 'room', rooms: [] });

    // A visitor's page connects to the room socket and announces itself.
    const page = await socket(L.t, `/ws/room/${admin.username}`);
    page.send({ command: 'new_room', consumer: 'visitor-1' });
    const told = await panel.next();
    expect(told).toEqual({
      command: 'new_room',
      room: {
        consumer: 'visitor-1',
        messages: [{ author: admin.username, content: 'Welcome to Ann’s shop!', room: `${admin.username} visitor-1`, created: expect.stringMatching(MICRO_OFFSET) }],
      },
    });
    // The visitor hears of its own room…
    expect(await page.next()).toMatchObject({ command: 'new_room', room: { consumer: 'visitor-1' } });
    // …and, announcing itself again, that it exists.
    page.send({ command: 'new_room', consumer: 'visitor-1' });
    expect(await page.next()).toEqual({ command: 'room_exists' });

    // Another visitor: the admin is told; the first visitor is not told of someone else's room.
    const other = await socket(L.t, `/ws/room/${admin.username}`);
    other.send({ command: 'new_room', consumer: 'visitor-2' });
    expect(await panel.next()).toMatchObject({ command: 'new_room', room: { consumer: 'visitor-2' } });
    expect(await other.next()).toMatchObject({ command: 'new_room', room: { consumer: 'visitor-2' } });
    page.send({ command: 'new_room', consumer: 'visitor-1' });
    expect(await page.next()).toEqual({ command: 'room_exists' });
    expect(page.pending).toEqual([]);

    panel.send({ command: 'fetch_rooms' });
    const listed = (await panel.next()) as { command: string; rooms: Array<{ consumer: string; messages: unknown[] }> };
    expect(listed.command).toBe('room');
    expect(listed.rooms.map((r) => r.consumer).sort()).toEqual(['visitor-1', 'visitor-2']);
    expect(listed.rooms.every((r) => r.messages.length === 1)).toBe(true);

    // The product sees the same rooms: the admin's chatbot rooms, one per visitor, greeting first.
    const rooms = await L.t.exec(ChatbotRooms, { workspaceId: L.workspaceId, adminId: admin.id }, { token: admin.token });
    expect(rooms.data!.rooms.nodes).toHaveLength(2);
    expect(rooms.data!.rooms.nodes.every((r) => r.messages.nodes[0]?.author?.id === admin.id)).toBe(true);
  });

  it('chats between an admin and a visitor over ws/chat, and with GraphQL both ways', async () => {
    const admin = await legacyAdmin(L.t);
    const path = `/ws/chat/${admin.username}/visitor-7`;
    const visitor = await socket(L.t, path);
    const adminChat = await socket(L.t, path);

    visitor.send({ command: 'fetch_messages' });
    const history = await visitor.next();
    expect(history).toEqual({
      command: 'messages',
      messages: [{ author: admin.username, content: 'Hi! How can we help you today?', room: `${admin.username} visitor-7`, created: expect.stringMatching(MICRO_OFFSET) }],
    });

    // A GraphQL client of the admin follows the same room.
    const rooms = await L.t.exec(ChatbotRooms, { workspaceId: L.workspaceId, adminId: admin.id }, { token: admin.token });
    const roomId = rooms.data!.rooms.nodes[0]!.id;
    const graphqlClient = L.t.ws({ token: admin.token });
    // From the greeting (seq 1) on: whatever comes after it is replayed or live, never missed.
    const live = collect(graphqlClient, Events, { conversationId: roomId, after: 1 });

    visitor.send({ command: 'new_message', message: { author: 'visitor-7', content: 'Do you ship to Oslo?' } });
    const fromVisitor = { command: 'new_message', message: { author: 'visitor-7', content: 'Do you ship to Oslo?', room: `${admin.username} visitor-7`, created: expect.stringMatching(MICRO_OFFSET) } };
    expect(await visitor.next()).toEqual(fromVisitor);
    expect(await adminChat.next()).toEqual(fromVisitor);

    adminChat.send({ command: 'new_message', message: { author: admin.username, content: 'We do.' } });
    expect(await visitor.next()).toMatchObject({ command: 'new_message', message: { author: admin.username, content: 'We do.' } });
    expect(await adminChat.next()).toMatchObject({ command: 'new_message', message: { author: admin.username, content: 'We do.' } });

    // GraphQL → legacy: the admin answers from a product client.
    const sent = await L.t.exec(Send, { input: { conversationId: roomId, body: 'Two to three days.' } }, { token: admin.token });
    expect(sent.data?.sendMessage.__typename).toBe('Message');
    expect(await visitor.next()).toMatchObject({ command: 'new_message', message: { author: admin.username, content: 'Two to three days.' } });

    // Legacy → GraphQL: both legacy messages reached the subscriber, with their real authors.
    const results = await live.next(3);
    const messages = results.map((r) => r.data?.conversationEvents.message);
    expect(messages.map((m) => m?.body)).toEqual(['Do you ship to Oslo?', 'We do.', 'Two to three days.']);
    expect(messages[0]?.author?.kind).toBe('GUEST');
    expect(messages[1]?.author?.id).toBe(admin.id);
    live.dispose();

    visitor.send({ command: 'fetch_messages' });
    const all = (await visitor.next()) as { messages: Array<{ content: string }> };
    expect(all.messages.map((m) => m.content)).toEqual(['Hi! How can we help you today?', 'Do you ship to Oslo?', 'We do.', 'Two to three days.']);
  });

  it('answers bad input with an error frame or a close code, and the socket and server carry on', async () => {
    const admin = await legacyAdmin(L.t);
    const unknown = await socket(L.t, '/ws/room/nobody-by-this-name');
    expect(await unknown.closed).toMatchObject({ code: 4404 });
    const unknownChat = await socket(L.t, '/ws/chat/nobody-by-this-name/visitor-1');
    expect(await unknownChat.closed).toMatchObject({ code: 4404 });

    const panel = await socket(L.t, `/ws/room/${admin.username}`);
    panel.send('{not json');
    expect(await panel.next()).toEqual({ command: 'error', message: 'Malformed JSON' });
    panel.send({ command: 'dance' });
    expect(await panel.next()).toMatchObject({ command: 'error', message: expect.stringContaining('Unknown command') });
    panel.send({ command: 'new_room' });
    expect(await panel.next()).toMatchObject({ command: 'error', message: expect.stringContaining('consumer') });
    panel.send({ command: 'new_room', consumer: 'x'.repeat(101) });
    expect(await panel.next()).toMatchObject({ command: 'error' });
    panel.send([1, 2]);
    expect(await panel.next()).toMatchObject({ command: 'error' });
    panel.send({ command: 'fetch_rooms' });
    expect(await panel.next()).toEqual({ command: 'room', rooms: [] });

    const chat = await socket(L.t, `/ws/chat/${admin.username}/visitor-9`);
    chat.send({ command: 'new_message', message: { author: 'visitor-9' } });
    expect(await chat.next()).toMatchObject({ command: 'error', message: 'message.content is required' });
    chat.send({ command: 'new_message', message: { author: 'visitor-9', content: 'x'.repeat(10_001) } });
    expect(await chat.next()).toMatchObject({ command: 'error' });
    chat.send({ command: 'new_message' });
    expect(await chat.next()).toMatchObject({ command: 'error' });
    chat.send({ command: 'fetch_messages' });
    const history = (await chat.next()) as { command: string; messages: unknown[] };
    // Nothing bad was stored: only the greeting.
    expect(history).toMatchObject({ command: 'messages' });
    expect(history.messages).toHaveLength(1);

    // A switched-off chatbot opens no room: the socket closes, saying why.
    const off = await fetch(`${L.t.url}/chatbot/api`, {
      method: 'POST',
      headers: { authorization: `Token ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    });
    expect(off.status).toBe(200);
    const refused = await socket(L.t, `/ws/chat/${admin.username}/visitor-new`);
    expect(await refused.closed).toEqual({ code: 4403, reason: expect.stringMatching(/switched off/) });

    // Everything else still works.
    chat.send({ command: 'new_message', message: { author: 'visitor-9', content: 'still here' } });
    expect(await chat.next()).toMatchObject({ command: 'new_message', message: { content: 'still here' } });
    expect((await fetch(`${L.t.url}/graphql?query=%7B__typename%7D`)).status).toBe(200);
  });

  it.runIf(process.env.REDIS_URL)('tells an admin on one instance of a room a visitor opens on another', async () => {
    const second = await startTestApp({ LEGACY_API_KEY: L.apiKey }, L.t.db);
    try {
      const admin = await legacyAdmin(L.t);
      const panel = await socket(L.t, `/ws/room/${admin.username}`);
      panel.send({ command: 'fetch_rooms' });
      expect(await panel.next()).toEqual({ command: 'room', rooms: [] });
      const page = await socket(second, `/ws/room/${admin.username}`);
      page.send({ command: 'new_room', consumer: 'far-away' });
      expect(await panel.next()).toMatchObject({ command: 'new_room', room: { consumer: 'far-away' } });
      // And the chat: a visitor on the second instance, the admin on the first.
      const visitorChat = await socket(second, `/ws/chat/${admin.username}/far-away`);
      const adminChat = await socket(L.t, `/ws/chat/${admin.username}/far-away`);
      // Open means live: nothing sent after the handshake is missed.
      visitorChat.send({ command: 'new_message', message: { author: 'far-away', content: 'hello from B' } });
      expect(await adminChat.next()).toMatchObject({ command: 'new_message', message: { author: 'far-away', content: 'hello from B' } });
    } finally {
      await second.stop();
    }
  });
});
