/**
 * Legacy 001 (Chat App) through the shim, with its clients' tools: fetch with URL-encoded and
 * multipart form data (and JSON), `ws` for the live chat per thread. Following the document:
 * users with a role, a client's first message opening a thread of a type, message and thread
 * lists, live chat between an agent and a client; and its two extras: no two agents on one
 * thread at once, urgent threads first in an agent's list.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { collect } from './helpers/app.js';
import { startLegacyApp, type LegacyApp } from './helpers/legacy.js';

const LogIn = graphql(`
  mutation Compat001LogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload {
        accessToken
      }
    }
  }
`);

const UserByName = graphql(`
  query Compat001UserByName($username: String!) {
    user(username: $username) {
      id
      username
      email
    }
  }
`);

const Events = graphql(`
  subscription Compat001Events($conversationId: ID!, $after: Int) {
    conversationEvents(conversationId: $conversationId, after: $after) {
      type
      message {
        body
        author {
          id
        }
      }
    }
  }
`);

const Send = graphql(`
  mutation Compat001Send($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

let L: LegacyApp;
let url: string;
beforeAll(async () => {
  L = await startLegacyApp();
  url = L.t.url;
});
afterAll(async () => {
  await L?.t.close();
});

const PASSWORD = 'legacy-pass-1';
let n = 0;
const username = (tag: string) => `${tag}${process.pid}x${Date.now().toString(36)}x${++n}`;

type Json = Record<string, unknown>;
async function call(method: string, path: string, body?: Record<string, string>, as: 'form' | 'multipart' | 'json' = 'form') {
  let payload: string | FormData | URLSearchParams | undefined;
  const headers: Record<string, string> = {};
  if (body && as === 'json') {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  } else if (body && as === 'multipart') {
    payload = new FormData();
    for (const [k, v] of Object.entries(body)) payload.append(k, v);
  } else if (body) {
    payload = new URLSearchParams(body);
  }
  const res = await fetch(`${url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as unknown };
}

async function createUser(role: 'agent' | 'client', tag: string = role): Promise<{ id: string; Username: string }> {
  const name = username(tag);
  const res = await call('POST', '/chat-app/user/', { Username: name, Password: PASSWORD, role });
  expect(res.status).toBe(201);
  return res.body as { id: string; Username: string };
}

async function tokenOf(name: string): Promise<string> {
  const res = await L.t.exec(LogIn, { input: { login: name, password: PASSWORD } });
  if (res.data?.logIn.__typename !== 'AuthPayload') throw new Error(JSON.stringify(res));
  return res.data.logIn.accessToken;
}

interface Socket {
  socket: WebSocket;
  next(match?: (m: Json) => boolean): Promise<Json>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace('http', 'ws')}${path}`);
    const inbox: Json[] = [];
    const waiters: Array<() => void> = [];
    socket.on('message', (data) => {
      inbox.push(JSON.parse(String(data)) as Json);
      waiters.splice(0).forEach((w) => w());
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => socket.on('close', (code, reason) => r({ code, reason: String(reason) })));
    const next = async (match: (m: Json) => boolean = () => true) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const i = inbox.findIndex(match);
        if (i >= 0) return inbox.splice(i, 1)[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching socket message; got ${JSON.stringify(inbox)}`);
        await new Promise<void>((r) => {
          const timer = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(timer);
            r();
          });
        });
      }
    };
    socket.once('open', () => resolve({ socket, next, closed }));
    socket.once('error', reject);
  });
}

const MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('legacy 001 users', () => {
  it('creates agents and clients from form data and deletes them', async () => {
    const agentName = username('Agent');
    const agent = await call('POST', '/chat-app/user/', { Username: agentName, Password: PASSWORD, role: 'agent' });
    expect(agent).toEqual({ status: 201, body: { id: expect.any(String), Username: agentName, role: 'agent' } });
    const clientName = username('client');
    const client = await call('POST', '/chat-app/user/', { Username: clientName, Password: PASSWORD, role: 'Client' }, 'multipart');
    expect(client).toEqual({ status: 201, body: { id: expect.any(String), Username: clientName, role: 'client' } });

    expect(await call('POST', '/chat-app/user/', { Username: clientName, Password: PASSWORD, role: 'client' })).toEqual({
      status: 400,
      body: { Username: ['A user with that username already exists.'] },
    });
    expect(await call('POST', '/chat-app/user/', { Username: username('x'), Password: PASSWORD })).toEqual({ status: 400, body: { role: ['This field is required.'] } });
    expect(await call('POST', '/chat-app/user/', { Username: username('x'), Password: PASSWORD, role: 'boss' })).toEqual({
      status: 400,
      body: { role: ['"boss" is not a valid choice.'] },
    });
    expect(await call('POST', '/chat-app/user/', { Username: username('x'), Password: 'short', role: 'client' })).toMatchObject({
      status: 400,
      body: { Password: [expect.any(String)] },
    });

    const clientId = (client.body as { id: string }).id;
    expect(await call('DELETE', `/chat-app/user/${clientId}/`)).toEqual({ status: 204, body: null });
    expect(await call('DELETE', `/chat-app/user/${clientId}/`)).toEqual({ status: 404, body: { detail: 'Not found.' } });
    // A deleted user is out of the legacy workspace: their calls are refused.
    expect(await call('POST', '/chat-app/message-list/', { Username: clientName, Password: PASSWORD, Thread_type: 'billing' })).toMatchObject({ status: 403 });
    // The legacy call never removes the workspace's admins; unknown ids are 404.
    expect(await call('DELETE', `/chat-app/user/${L.admin.id}/`)).toMatchObject({ status: 403 });
    expect(await call('DELETE', '/chat-app/user/7/')).toEqual({ status: 404, body: { detail: 'Not found.' } });
  });
});

describe('legacy 001 usernames', () => {
  it('a Username is the account’s username: the legacy calls and logIn accept it in any case; user(username) finds it', async () => {
    const name = username('Casey');
    const created = await call('POST', '/chat-app/user/', { Username: name, Password: PASSWORD, role: 'client' });
    expect(created).toEqual({ status: 201, body: { id: expect.any(String), Username: name, role: 'client' } });
    // The document's body for a client call, Username and Password as form fields: answered, not 401.
    const list = await call('POST', '/chat-app/message-list/', { Username: name, Password: PASSWORD, Thread_type: 'billing' });
    expect(list).toEqual({ status: 200, body: [] });
    expect(await call('POST', '/chat-app/message-list/', { Username: name, Password: 'wrong-pass-1', Thread_type: 'billing' })).toMatchObject({ status: 401 });
    const upper = await L.t.exec(LogIn, { input: { login: name.toUpperCase(), password: PASSWORD } });
    expect(upper.data?.logIn.__typename).toBe('AuthPayload');
    const found = await L.t.exec(UserByName, { username: name.toLowerCase() }, { token: L.admin.token });
    expect(found.data?.user).toEqual({ id: (created.body as { id: string }).id, username: name, email: null });
  });
});

describe('legacy 001 messages and threads', () => {
  it('opens a client’s thread with its first message, lists it for client and agent, urgent threads first', async () => {
    const calm = await createUser('client', 'calm');
    const alarmed = await createUser('client', 'alarmed');
    const agent = await createUser('agent');

    const first = await call('POST', '/chat-app/send-message/', { Username: calm.Username, Password: PASSWORD, Message_body: 'Hello, a question about my invoice', Thread_type: 'Billing' });
    expect(first.status).toBe(201);
    const m1 = first.body as Json;
    expect(m1).toEqual({
      id: expect.any(String),
      thread: expect.any(String),
      Thread_type: 'Billing',
      sender: calm.id,
      sender_username: calm.Username,
      Message_body: 'Hello, a question about my invoice',
      timestamp: expect.stringMatching(MICROS),
    });

    // The thread is open now: a GraphQL subscriber sees the next legacy message live.
    const live = collect(L.t.ws({ token: L.admin.token }), Events, { conversationId: m1.thread as string, after: 1 });
    const second = await call('POST', '/chat-app/send-message/', { Username: calm.Username, Password: PASSWORD, Message_body: 'Are you there?', Thread_type: 'billing' }, 'json');
    expect(second.body).toMatchObject({ thread: m1.thread, Message_body: 'Are you there?' });
    const [event] = await live.next(1);
    expect(event!.data!.conversationEvents).toMatchObject({ type: 'MESSAGE_ADDED', message: { body: 'Are you there?', author: { id: calm.id } } });
    live.dispose();

    await call('POST', '/chat-app/send-message/', {
      Username: alarmed.Username,
      Password: PASSWORD,
      Message_body: 'URGENT: the site is down and I want a refund',
      Thread_type: 'Support',
    }, 'multipart');

    // The client's list: their thread of that type, oldest first.
    const mine = await call('POST', '/chat-app/message-list/', { Username: calm.Username, Password: PASSWORD, Thread_type: 'Billing' });
    expect(mine.status).toBe(200);
    expect((mine.body as Json[]).map((m) => m.Message_body)).toEqual(['Hello, a question about my invoice', 'Are you there?']);
    expect(await call('POST', '/chat-app/message-list/', { Username: calm.Username, Password: PASSWORD, Thread_type: 'Shipping' })).toEqual({ status: 200, body: [] });
    const viaQuery = await call('GET', `/chat-app/message-list/?Username=${calm.Username}&Password=${PASSWORD}&Thread_type=Billing`);
    expect((viaQuery.body as Json[]).length).toBe(2);
    // Without a type, a client gets all their threads' messages, and only theirs.
    const allMine = await call('POST', '/chat-app/message-list/', { Username: calm.Username, Password: PASSWORD });
    expect((allMine.body as Json[]).map((m) => m.sender)).toEqual([calm.id, calm.id]);

    // The agent's list: the alarmed client's thread first, marked with its urgency.
    const inbox = await call('POST', '/chat-app/message-list/', { Username: agent.Username, Password: PASSWORD });
    expect(inbox.status).toBe(200);
    const list = inbox.body as Array<Json & { urgency: number; urgency_reasons: string[] }>;
    expect(list[0]).toMatchObject({ sender: alarmed.id, Thread_type: 'Support', urgent: expect.any(Boolean) });
    const calmEntry = list.find((m) => m.sender === calm.id)!;
    expect(list[0]!.urgency).toBeGreaterThan(calmEntry.urgency);
    expect(list[0]!.urgency_reasons.join(' ')).toMatch(/refund/);
    expect(list.indexOf(calmEntry)).toBeGreaterThan(0);

    // An agent does not open client threads; a wrong password is refused.
    expect(await call('POST', '/chat-app/send-message/', { Username: agent.Username, Password: PASSWORD, Message_body: 'hi', Thread_type: 'Billing' })).toMatchObject({ status: 403 });
    expect(await call('POST', '/chat-app/message-list/', { Username: calm.Username, Password: 'wrong-password' })).toEqual({
      status: 401,
      body: { detail: 'Invalid username/password.' },
    });
    expect(await call('POST', '/chat-app/send-message/', { Username: calm.Username, Password: PASSWORD, Thread_type: 'Billing' })).toEqual({
      status: 400,
      body: { Message_body: ['This field is required.'] },
    });
    expect(await call('POST', '/chat-app/message-list/', { Password: PASSWORD })).toEqual({ status: 400, body: { Username: ['This field is required.'] } });

    // thread-list by client, by agent (once the agent has answered), and by both.
    const byClient = await call('POST', '/chat-app/thread-list/', { Client_id: calm.id });
    expect(byClient.status).toBe(200);
    expect(byClient.body).toEqual([
      {
        id: m1.thread,
        Thread_type: 'Billing',
        client: calm.id,
        agents: [],
        created_at: expect.stringMatching(MICROS),
        updated_at: expect.stringMatching(MICROS),
        messages: [expect.objectContaining({ Message_body: 'Hello, a question about my invoice' }), expect.objectContaining({ Message_body: 'Are you there?' })],
      },
    ]);
    expect((await call('POST', '/chat-app/thread-list/', { Agent_id: agent.id })).body).toEqual([]);
    const answered = await L.t.exec(Send, { input: { conversationId: m1.thread as string, body: 'Yes, here' } }, { token: await tokenOf(agent.Username) });
    expect(answered.data!.sendMessage.__typename).toBe('Message');
    const between = await call('GET', `/chat-app/thread-list/?Agent_id=${agent.id}&Client_id=${calm.id}`);
    expect(between.body).toMatchObject([{ id: m1.thread, client: calm.id, agents: [agent.id] }]);
    expect(await call('POST', '/chat-app/thread-list/', {})).toMatchObject({ status: 400 });
    expect(await call('POST', '/chat-app/thread-list/', { Agent_id: '12' })).toEqual({ status: 404, body: { detail: 'Not found.' } });
  });
});

describe('legacy 001 live chat', () => {
  it('chats per thread over a raw WebSocket both ways with GraphQL, one agent at a time', async () => {
    const client = await createUser('client');
    const ann = await createUser('agent', 'ann');
    const ben = await createUser('agent', 'ben');
    const opened = await call('POST', '/chat-app/send-message/', { Username: client.Username, Password: PASSWORD, Message_body: 'Need help', Thread_type: 'Sales' });
    const threadId = (opened.body as { thread: string }).thread;

    const clientSocket = await connect(`/chat-app/${threadId}/${client.id}`);
    const annSocket = await connect(`/ws/chat-app/${threadId}/${ann.id}/`);
    // Ann's connection claims the thread: Ben is told who is working on it.
    const benSocket = await connect(`/ws/chat-app/${threadId}/${ben.id}/`);
    const told = await benSocket.next((m) => m.type === 'error');
    expect(told).toMatchObject({ type: 'error', code: 'CLAIMED', holder_id: ann.id, holder_username: ann.Username });
    const live = collect(L.t.ws({ token: L.admin.token }), Events, { conversationId: threadId, after: 1 });

    clientSocket.socket.send(JSON.stringify({ message: 'Is the blue one in stock?' }));
    const toAnn = await annSocket.next((m) => m.type === 'chat_message');
    expect(toAnn).toEqual({
      type: 'chat_message',
      message: 'Is the blue one in stock?',
      id: expect.any(String),
      thread: threadId,
      Thread_type: 'Sales',
      sender: client.id,
      sender_username: client.Username,
      Message_body: 'Is the blue one in stock?',
      timestamp: expect.stringMatching(MICROS),
    });
    expect(await clientSocket.next((m) => m.type === 'chat_message')).toMatchObject({ id: toAnn.id });
    expect(await benSocket.next((m) => m.type === 'chat_message')).toMatchObject({ id: toAnn.id });
    const [viaGraphql] = await live.next(1);
    expect(viaGraphql!.data!.conversationEvents.message).toMatchObject({ body: 'Is the blue one in stock?', author: { id: client.id } });

    // Ben's reply is refused while Ann holds the thread; Ann's goes through.
    benSocket.socket.send(JSON.stringify({ message: 'I can help!' }));
    expect(await benSocket.next((m) => m.type === 'error')).toMatchObject({ code: 'CLAIMED', holder_id: ann.id });
    annSocket.socket.send(JSON.stringify({ type: 'chat_message', Message_body: 'Yes, it is' }));
    expect(await clientSocket.next((m) => m.type === 'chat_message')).toMatchObject({ Message_body: 'Yes, it is', sender: ann.id });
    const [, second] = await live.next(2);
    expect(second!.data!.conversationEvents.message).toMatchObject({ body: 'Yes, it is', author: { id: ann.id } });

    // A message sent over GraphQL reaches the legacy sockets.
    await L.t.exec(Send, { input: { conversationId: threadId, body: 'Sent from the new app' } }, { token: await tokenOf(client.Username) });
    expect(await annSocket.next((m) => m.message === 'Sent from the new app')).toMatchObject({ type: 'chat_message', sender: client.id });

    // Once Ann leaves, her claim ends and Ben may answer.
    annSocket.socket.close();
    await annSocket.closed;
    let benSent = false;
    for (let attempt = 0; attempt < 50 && !benSent; attempt++) {
      benSocket.socket.send(JSON.stringify({ message: 'Ben here' }));
      const reply = await benSocket.next((m) => m.type === 'error' || (m.type === 'chat_message' && m.sender === ben.id));
      benSent = reply.type === 'chat_message';
      if (!benSent) await new Promise((r) => setTimeout(r, 100));
    }
    expect(benSent).toBe(true);
    live.dispose();
    clientSocket.socket.close();
    benSocket.socket.close();
  });

  it('answers bad socket input with an error and stays open; refuses unknown threads and strangers', async () => {
    const client = await createUser('client');
    const stranger = await createUser('client', 'stranger');
    const opened = await call('POST', '/chat-app/send-message/', { Username: client.Username, Password: PASSWORD, Message_body: 'hi', Thread_type: 'Other' });
    const threadId = (opened.body as { thread: string }).thread;
    const s = await connect(`/ws/chat-app/${threadId}/${client.id}/`);
    s.socket.send('{not json');
    expect(await s.next()).toEqual({ type: 'error', error: 'Malformed JSON' });
    s.socket.send(JSON.stringify({ type: 'dance' }));
    expect(await s.next()).toEqual({ type: 'error', error: 'Unknown message type: dance' });
    s.socket.send(JSON.stringify({}));
    expect(await s.next()).toEqual({ type: 'error', error: 'message is required' });
    s.socket.send('[1, 2]');
    expect(await s.next()).toMatchObject({ type: 'error' });
    expect(s.socket.readyState).toBe(WebSocket.OPEN);
    s.socket.send(JSON.stringify({ message: 'still here' }));
    expect(await s.next()).toMatchObject({ type: 'chat_message', message: 'still here' });
    s.socket.close();

    expect((await (await connect(`/ws/chat-app/8a0c0d3e-1111-4222-8333-944455556666/${client.id}/`)).closed).code).toBe(4404);
    expect((await (await connect(`/ws/chat-app/12/34/`)).closed).code).toBe(4404);
    expect((await (await connect(`/ws/chat-app/${threadId}/${stranger.id}/`)).closed).code).toBe(4403);
    // The server is still up.
    expect((await call('POST', '/chat-app/message-list/', { Username: client.Username, Password: PASSWORD, Thread_type: 'Other' })).status).toBe(200);
  });
});
