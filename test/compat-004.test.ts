/**
 * Legacy 004 through the shim, with the clients its users have: fetch for REST, ws for the
 * socket; shapes as in the document's own examples.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './helpers/app.js';
import { workspace, type Person } from './helpers/fixtures.js';

let t: TestApp;
let alice: Person;
let bob: Person;

beforeAll(async () => {
  t = await startTestApp();
  const ws = await workspace(t, { bob: 'CLIENT' });
  alice = ws.admin;
  bob = ws.people.bob!;
});
afterAll(async () => {
  await t?.close();
});

function get(path: string, token?: string) {
  return fetch(`${t.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

function open(token: string): Promise<{ socket: WebSocket; messages: unknown[]; next(): Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${t.url.replace('http', 'ws')}/ws/chat/room/?token=${token}`);
    const messages: unknown[] = [];
    const waiters: Array<(m: unknown) => void> = [];
    socket.on('message', (data) => {
      const m = JSON.parse(String(data)) as unknown;
      const w = waiters.shift();
      if (w) w(m);
      else messages.push(m);
    });
    socket.once('open', () =>
      resolve({
        socket,
        messages,
        next: () =>
          messages.length
            ? Promise.resolve(messages.shift())
            : new Promise((r, j) => {
                const timer = setTimeout(() => j(new Error('no message')), 5000);
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

describe('legacy 004', () => {
  it('delivers chat_message as re_message and lists it in the documented shapes', async () => {
    const bobSocket = await open(bob.token);
    const aliceSocket = await open(alice.token);
    // Give the subscriptions set up at connect a moment: the thread does not exist yet, so Bob's
    // socket learns of it when Alice's message opens it.
    const empty = await (await get(`/chat/messages/${bob.id}/`, alice.token)).json();
    expect(empty).toEqual({ status: 'success', entity: { messages: [] }, message: 'Messages retreived successfully', success: true });

    // Bob's socket connected before the thread existed; reconnect so it watches it.
    bobSocket.socket.close();
    const bob2 = await open(bob.token);
    await new Promise((r) => setTimeout(r, 100));
    aliceSocket.socket.send(JSON.stringify({ action: 'chat_message', message_body: 'hello there', receiver_id: bob.id }));
    const received = (await bob2.next()) as Record<string, unknown>;
    expect(received).toMatchObject({ message_body: 'hello there', sender_id: alice.id, receiver_id: bob.id, action: 're_message' });
    expect(received.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(typeof received.created_msg_id).toBe('string');

    const listed = (await (await get(`/chat/messages/${alice.id}/`, bob.token)).json()) as {
      entity: { messages: Array<Record<string, unknown>> };
    };
    expect(listed.entity.messages).toHaveLength(1);
    expect(listed.entity.messages[0]).toMatchObject({
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
    expect(listed.entity.messages[0]!.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    const threads = (await (await get('/chat/get-user-threads/', alice.token)).json()) as { entity: Array<Record<string, unknown>>; success: boolean };
    expect(threads.success).toBe(true);
    expect(threads.entity[0]).toMatchObject({ user_one: { profile: null }, user_two: { profile: null } });
    aliceSocket.socket.close();
    bob2.socket.close();
  });

  it('answers bad input the legacy way and keeps the socket open', async () => {
    const missing = await get('/chat/messages/8a0c0d3e-1111-4222-8333-944455556666/', alice.token);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ status: 'failure', entity: null, message: 'Invalid receipient', success: false });
    const anonymous = await get(`/chat/messages/${bob.id}/`);
    expect(anonymous.status).toBe(401);
    const s = await open(alice.token);
    s.socket.send('{not json');
    expect(await s.next()).toMatchObject({ action: 'error', message: 'Malformed JSON' });
    s.socket.send(JSON.stringify({ action: 'dance' }));
    expect(await s.next()).toMatchObject({ action: 'error' });
    s.socket.send(JSON.stringify({ action: 'chat_message', message_body: 'x', receiver_id: 'nobody' }));
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
