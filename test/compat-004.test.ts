/**
 * Legacy 004 through the shim, with the clients its users have: fetch (and FormData for the
 * upload) for REST, ws for the socket; shapes as in the document's own examples.
 *
 * The socket completes its handshake once its subscription is live, so a test may act as soon as
 * `open` fires. "Nothing else came" is shown by a sentinel: a later message that must be next.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { startTestApp, until, wsOnce, type TestApp } from './helpers/app.js';
import { expectNoStrayFiles, png } from './helpers/files.js';
import { openLegacySocket, type LegacySocketClient } from './helpers/legacy.js';
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

/** POST /chat/chat-attachment/ with a FormData body, parts in the order given. */
function upload(parts: Array<[string, string] | [string, Buffer, string, string]>, token?: string, app = t) {
  const form = new FormData();
  for (const part of parts) {
    if (part.length === 2) form.append(part[0], part[1]);
    else form.append(part[0], new Blob([new Uint8Array(part[1])], { type: part[3] }), part[2]);
  }
  return fetch(`${app.url}/chat/chat-attachment/`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: form,
  });
}

/** The legacy socket of a user, as netroxchange clients open it. */
function open(token: string, app = t): Promise<LegacySocketClient> {
  return openLegacySocket(`${app.url.replace('http', 'ws')}/ws/chat/room/?token=${token}`);
}

// ---------------------------------------------------------------------------------------------
// Files: a real PNG, text of a chosen size, what is on disk


function text(bytes: number): Buffer {
  return Buffer.alloc(bytes, 'legacy 004 text\n');
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
    expect(await s.next()).toMatchObject({ action: 'error', message: 'Send a JSON object' });
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

describe('legacy 004 files', () => {
  it('uploads a PNG with its message, announces it, and the receiver gets re_message_file and the bytes', async () => {
    const frank = await newcomer(t, workspaceId, admin.token, 'frank');
    const frankSocket = await open(frank.token);
    const aliceSocket = await open(alice.token);
    const image = png(120, 120);
    const res = await upload(
      [
        ['receiver', frank.id],
        ['message', 'Hello, this is my message'],
        ['attached_file', image, 'pexels-nappy-936119.png', 'image/png'],
      ],
      alice.token,
    );
    expect(res.status).toBe(201);
    const body = (await res.json()) as { entity: { message: Record<string, unknown> } };
    const size = `${(image.length / 1024).toFixed(2)}KB`;
    expect(body).toEqual({
      status: 'success',
      entity: {
        message: {
          id: expect.any(String),
          sender: { id: alice.id, email: alice.email, profile: null },
          // An agent sees the emails of their workspace's members.
          receiver: { id: frank.id, email: frank.email, profile: null },
          attached_file_size: size,
          message: 'Hello, this is my message',
          updated: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
          created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
          seen: false,
          deleted: false,
          attached_file: expect.stringMatching(/^\/files\/[0-9a-f-]{36}\?/),
          attached_file_name: 'pexels-nappy-936119.png',
          thread: expect.any(String),
        },
      },
      message: 'File uploaded and chat created successfully',
      success: true,
    });
    const message = body.entity.message;

    aliceSocket.send({ action: 'chat_message_file', message_body: 'hello there', chat_id: message.id });
    const received = await frankSocket.next();
    expect(received).toEqual({
      message_body: 'Hello, this is my message',
      attached_file_name: 'pexels-nappy-936119.png',
      attached_file_size: size,
      attached_file_url: expect.stringMatching(/^\/files\/[0-9a-f-]{36}\?/),
      sender_id: alice.id,
      receiver_id: frank.id,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/),
      created_msg_id: message.id,
      action: 're_message_file',
    });
    // Announcing again is harmless, and the sender is told nothing: Alice's next frame is the
    // answer to the one after, and Frank's next message is the sentinel.
    aliceSocket.send({ action: 'chat_message_file', message_body: 'hello there', chat_id: message.id });
    aliceSocket.send({ action: 'chat_message', message_body: 'sentinel', receiver_id: frank.id });
    aliceSocket.send({ action: 'ping' });
    expect(await aliceSocket.next()).toEqual({ action: 'error', message: 'Unknown action: ping' });
    expect(await frankSocket.next()).toMatchObject({ action: 're_message', message_body: 'sentinel' });

    // The receiver downloads it byte for byte, with their token, or with none (a plain <img src>).
    const url = received.attached_file_url as string;
    for (const headers of [{ authorization: `Bearer ${frank.token}` }, {}] as Array<Record<string, string>>) {
      const download = await fetch(`${t.url}${url}`, { headers });
      expect(download.status).toBe(200);
      expect(download.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await download.arrayBuffer()).equals(image)).toBe(true);
    }

    // The history shows the file.
    const listed = await history(alice.id, frank.token);
    expect(listed.find((m) => m.id === message.id)).toMatchObject({
      attached_file_size: size,
      attached_file: expect.stringMatching(/^\/files\/[0-9a-f-]{36}\?/),
      attached_file_name: 'pexels-nappy-936119.png',
      message: 'Hello, this is my message',
    });
    expect(listed.find((m) => m.message === 'sentinel')).toMatchObject({ attached_file_size: '0kb', attached_file: null, attached_file_name: null });
    frankSocket.socket.close();
    aliceSocket.socket.close();
    await expectNoStrayFiles(t);
  });

  it('gives sizes as the document does: "86.73KB", and MB for larger files', async () => {
    const exact = await upload([['receiver', bob.id], ['message', 'notes'], ['attached_file', text(88_812), 'notes.txt', 'text/plain']], alice.token);
    expect(exact.status).toBe(201);
    expect(((await exact.json()) as { entity: { message: Record<string, unknown> } }).entity.message).toMatchObject({
      attached_file_size: '86.73KB',
      attached_file_name: 'notes.txt',
    });
    const large = png(720, 720);
    const big = await upload([['receiver', bob.id], ['message', 'a large photo'], ['attached_file', large, 'large.png', 'image/png']], alice.token);
    expect(big.status).toBe(201);
    const entity = ((await big.json()) as { entity: { message: Record<string, string> } }).entity.message;
    expect(entity.attached_file_size).toBe(`${(large.length / (1024 * 1024)).toFixed(2)}MB`);
    const download = await fetch(`${t.url}${entity.attached_file}`, { headers: { authorization: `Bearer ${bob.token}` } });
    expect(Buffer.from(await download.arrayBuffer()).equals(large)).toBe(true);
  });

  it('refuses bad uploads with the failure envelope and stores nothing', async () => {
    const before = (await history(bob.id, alice.token)).length;
    const image = png(16, 16);
    const file: [string, Buffer, string, string] = ['attached_file', image, 'a.png', 'image/png'];

    const anonymous = await upload([['receiver', bob.id], ['message', 'x'], file]);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual(failure(/.+/));

    const unknown = await upload([['receiver', '8a0c0d3e-1111-4222-8333-944455556666'], ['message', 'x'], file], alice.token);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual(failure('Invalid receipient'));
    const notAnId = await upload([['receiver', 'nobody'], ['message', 'x'], file], alice.token);
    expect(notAnId.status).toBe(404);
    expect(await notAnId.json()).toEqual(failure('Invalid receipient'));

    const noFile = await upload([['receiver', bob.id], ['message', 'x']], alice.token);
    expect(noFile.status).toBe(400);
    expect(await noFile.json()).toEqual(failure('attached_file is required.'));

    const fileFirst = await upload([file, ['receiver', bob.id], ['message', 'x']], alice.token);
    expect(fileFirst.status).toBe(400);
    expect(await fileFirst.json()).toEqual(failure('The fields receiver and message must come before attached_file.'));

    const refusedType = await upload([['receiver', bob.id], ['message', 'x'], ['attached_file', randomBytes(4096), 'a.bin', 'image/png']], alice.token);
    expect(refusedType.status).toBe(400);
    expect(await refusedType.json()).toEqual(failure(/^attached_file is of a type that is not allowed/));

    const notMultipart = await fetch(`${t.url}/chat/chat-attachment/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ receiver: bob.id, message: 'x' }),
    });
    expect(notMultipart.status).toBe(400);
    expect(await notMultipart.json()).toEqual(failure(/multipart\/form-data/));

    const malformed = await fetch(`${t.url}/chat/chat-attachment/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="receiver"\r\n\r\nabc\r\n--xyz\r\nContent-Disp',
    });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual(failure(/.+/));

    expect(await history(bob.id, alice.token)).toHaveLength(before);
    await expectNoStrayFiles(t);
  });

  it('keeps nothing of an upload whose client goes away half-way', async () => {
    const boundary = 'c004boundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="receiver"\r\n\r\n${bob.id}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\nhalf\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="attached_file"; filename="half.txt"\r\nContent-Type: text/plain\r\n\r\n`,
    );
    const before = (await history(bob.id, alice.token)).length;
    const { port, hostname } = new URL(t.url);
    const req = http.request({
      host: hostname,
      port,
      method: 'POST',
      path: '/chat/chat-attachment/',
      headers: {
        authorization: `Bearer ${alice.token}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + 1024 * 1024),
      },
    });
    req.on('error', () => undefined);
    req.write(head);
    // Half the file, then the connection goes; wait until the server has the file open.
    const root = path.resolve(t.db.dataDir, 'files');
    const partial = () =>
      existsSync(root) && readdirSync(root, { recursive: true, withFileTypes: true }).some((e) => e.isFile() && e.name.endsWith('.part'));
    req.write(text(512 * 1024));
    await until(partial);
    req.destroy();
    await until(() => !partial());
    expect(await history(bob.id, alice.token)).toHaveLength(before);
    await expectNoStrayFiles(t);
    // The server is still here.
    expect((await get('/chat/get-user-threads/', alice.token)).status).toBe(200);
  });

  it('refuses chat_message_file for a message that is not the sender’s, keeping the socket open', async () => {
    const s = await open(bob.token);
    const aliceSocket = await open(alice.token);
    const theirs = await upload([['receiver', bob.id], ['message', 'mine'], ['attached_file', png(8, 8), 'p.png', 'image/png']], alice.token);
    const id = ((await theirs.json()) as { entity: { message: { id: string } } }).entity.message.id;
    // Bob hears Alice's upload on commit.
    expect(await s.next()).toMatchObject({ action: 're_message_file', created_msg_id: id });
    s.send({ action: 'chat_message_file', message_body: 'x', chat_id: id });
    expect(await s.next()).toEqual({ action: 'error', message: expect.stringMatching(/.+/) });
    s.send({ action: 'chat_message_file', message_body: 'x', chat_id: '8a0c0d3e-1111-4222-8333-944455556666' });
    expect(await s.next()).toEqual({ action: 'error', message: expect.stringMatching(/.+/) });
    s.send({ action: 'chat_message_file', message_body: 'x', chat_id: 35 });
    expect(await s.next()).toEqual({ action: 'error', message: expect.stringMatching(/.+/) });
    s.send({ action: 'chat_message_file', message_body: 'x' });
    expect(await s.next()).toEqual({ action: 'error', message: 'chat_id is required' });
    expect(s.socket.readyState).toBe(WebSocket.OPEN);
    s.send({ action: 'chat_message', message_body: 'still here, live', receiver_id: alice.id });
    expect(await aliceSocket.next()).toMatchObject({ action: 're_message', message_body: 'still here, live', sender_id: bob.id });
    s.socket.close();
    aliceSocket.socket.close();
  });
});

describe('legacy 004 upload limits', () => {
  let small: TestApp;
  let sender: Person;
  let receiver: Person;
  beforeAll(async () => {
    small = await startTestApp({ UPLOAD_MAX_FILE_BYTES: '4096' });
    const ws = await workspace(small, { receiver: 'CLIENT' });
    sender = ws.admin;
    receiver = ws.people.receiver!;
  });
  afterAll(async () => {
    await small?.close();
  });

  it('refuses a file over UPLOAD_MAX_FILE_BYTES with 413, streamed or told by its length, and stores nothing', async () => {
    const fits = await upload([['receiver', receiver.id], ['message', 'fits'], ['attached_file', text(4096), 'fits.txt', 'text/plain']], sender.token, small);
    expect(fits.status).toBe(201);
    expect(((await fits.json()) as { entity: { message: Record<string, unknown> } }).entity.message).toMatchObject({ attached_file_size: '4.00KB' });

    for (const bytes of [4097, 64 * 1024, 2 * 1024 * 1024]) {
      const over = await upload([['receiver', receiver.id], ['message', 'too big'], ['attached_file', text(bytes), 'big.txt', 'text/plain']], sender.token, small);
      expect(over.status, `${bytes} bytes`).toBe(413);
      expect(await over.json()).toEqual(failure('attached_file is larger than the 4.00KB limit.'));
    }
    expect((await history(receiver.id, sender.token, small)).map((m) => m.message)).toEqual(['fits']);
    await expectNoStrayFiles(small);
  });
});
