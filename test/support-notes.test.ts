/**
 * Internal notes: staff write them in the conversation's one ordered stream; customers (and
 * anyone reading as one: API keys with X-View-As, every legacy call) never get them, on any
 * channel, and their own numbering has no hole where a note is. One server with the legacy shim
 * configured serves every channel: GraphQL history, subscriptions, search, unread counts, inbox,
 * and the legacy 000, 001, 002 and 004 calls.
 */
import { io, type Socket as IoSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { collect } from './helpers/app.js';
import { guest, person, type Person } from './helpers/fixtures.js';
import { startLegacyApp, type LegacyApp } from './helpers/legacy.js';
import { openTicket, product } from './helpers/support.js';

const AddMember = graphql(`
  mutation NotesAddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
    }
  }
`);

const Send = graphql(`
  mutation NotesSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        visibility
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const History = graphql(`
  query NotesHistory($id: ID!, $first: Int, $after: String) {
    conversation(id: $id) {
      lastSeq
      viewerUnreadCount
      viewerLastReadSeq
      lastMessage {
        body
      }
      members {
        user {
          id
        }
        lastReadSeq
      }
      messages(first: $first, after: $after) {
        pageInfo {
          endCursor
        }
        nodes {
          id
          seq
          body
          visibility
          replyTo {
            seq
          }
        }
      }
    }
  }
`);

const MarkRead = graphql(`
  mutation NotesMarkRead($conversationId: ID!, $seq: Int!) {
    markRead(conversationId: $conversationId, seq: $seq) {
      __typename
    }
  }
`);

const Edit = graphql(`
  mutation NotesEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Events = graphql(`
  subscription NotesEvents($conversationId: ID!, $after: Int) {
    conversationEvents(conversationId: $conversationId, after: $after) {
      type
      seq
      message {
        seq
        body
        visibility
      }
    }
  }
`);

const Typing = graphql(`
  mutation NotesTyping($conversationId: ID!, $internal: Boolean) {
    setTyping(conversationId: $conversationId, internal: $internal) {
      __typename
    }
  }
`);

const Search = graphql(`
  query NotesSearch($query: String!, $conversationId: ID) {
    searchMessages(query: $query, conversationId: $conversationId, first: 20) {
      nodes {
        seq
        body
        visibility
      }
    }
  }
`);

const Inbox = graphql(`
  subscription NotesInbox {
    inboxEvents {
      type
      conversationId
      lastSeq
      unreadCount
      message {
        seq
        body
      }
    }
  }
`);

const ThreadMessage = graphql(`
  mutation NotesThreadMessage($input: SendThreadMessageInput!) {
    sendThreadMessage(input: $input) {
      __typename
      ... on ThreadMessageSent {
        thread {
          id
        }
      }
    }
  }
`);

let L: LegacyApp;
let ann: Person; // an agent
let carol: Person; // a customer (CLIENT)
let productSlug: string;

async function member(role: 'AGENT' | 'CLIENT', tag: string): Promise<Person> {
  const p = await person(L.t, tag);
  const added = await L.t.exec(AddMember, { input: { workspaceId: L.workspaceId, email: p.email, role } }, { token: L.admin.token });
  expect(added.data?.addWorkspaceMember.__typename).toBe('Membership');
  return p;
}

async function send(token: string, conversationId: string, body: string, extra: { visibility?: 'PUBLIC' | 'INTERNAL'; replyToId?: string } = {}) {
  const res = await L.t.exec(Send, { input: { conversationId, body, ...extra } }, { token });
  return res.data!.sendMessage;
}

async function sent(token: string, conversationId: string, body: string, visibility: 'PUBLIC' | 'INTERNAL' = 'PUBLIC') {
  const out = await send(token, conversationId, body, { visibility });
  if (out.__typename !== 'Message') throw new Error(JSON.stringify(out));
  return out;
}

async function history(token: string, id: string, headers?: Record<string, string>) {
  const res = await L.t.exec(History, { id, first: 100 }, { token, headers });
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data.conversation;
}

/** A ticket opened by carol with a first message (seq 1 for everyone). */
async function carolsTicket(first = 'My parcel has not arrived'): Promise<string> {
  const ticket = await openTicket(L.t, carol.token, { workspaceId: L.workspaceId, productSlug, message: first });
  return ticket.id;
}

beforeAll(async () => {
  L = await startLegacyApp();
  ann = await member('AGENT', 'ann');
  carol = await member('CLIENT', 'carol');
  productSlug = (await product(L.t, L.admin.token, L.workspaceId)).slug;
});
afterAll(async () => {
  await L?.t.close();
});

describe('internal notes over GraphQL', () => {
  it('history: staff read notes in the one stream; the customer reads public messages numbered without a hole', async () => {
    const id = await carolsTicket();
    const note = await sent(ann.token, id, 'Refund approved by finance, do not tell yet', 'INTERNAL');
    expect(note).toMatchObject({ seq: 2, visibility: 'INTERNAL' });
    const reply = await sent(ann.token, id, 'We are looking into it');
    expect(reply).toMatchObject({ seq: 3, visibility: 'PUBLIC' });

    const staff = await history(ann.token, id);
    expect(staff.lastSeq).toBe(3);
    expect(staff.messages.nodes.map((m) => [m.seq, m.visibility, m.body])).toEqual([
      [1, 'PUBLIC', 'My parcel has not arrived'],
      [2, 'INTERNAL', 'Refund approved by finance, do not tell yet'],
      [3, 'PUBLIC', 'We are looking into it'],
    ]);

    const customer = await history(carol.token, id);
    expect(customer.lastSeq).toBe(2);
    expect(customer.messages.nodes.map((m) => [m.seq, m.visibility, m.body])).toEqual([
      [1, 'PUBLIC', 'My parcel has not arrived'],
      [2, 'PUBLIC', 'We are looking into it'],
    ]);
    // Paging by the customer's cursors: after seq 1 comes seq 2, nothing in between.
    const page1 = await L.t.exec(History, { id, first: 1 }, { token: carol.token });
    const page2 = await L.t.exec(History, { id, first: 10, after: page1.data!.conversation.messages.pageInfo.endCursor }, { token: carol.token });
    expect(page2.data!.conversation.messages.nodes.map((m) => m.seq)).toEqual([2]);

    // An API key reads the staff view, or the customer's when it says so.
    expect((await history(L.apiKey, id)).messages.nodes).toHaveLength(3);
    const asCustomer = await history(L.apiKey, id, { 'x-view-as': 'customer' });
    expect(asCustomer.messages.nodes.map((m) => m.seq)).toEqual([1, 2]);
    expect(asCustomer.lastSeq).toBe(2);

    // A note is as unknown to the customer as an id that does not exist; customers write none.
    expect((await L.t.exec(Edit, { id: note.id, body: 'x' }, { token: carol.token })).data!.editMessage).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await send(carol.token, id, 'psst', { visibility: 'INTERNAL' })).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    // A public message cannot answer a note (the customer could not see what it answers); a note can.
    expect(await send(ann.token, id, 'About that refund', { replyToId: note.id })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await send(ann.token, id, 'Finance confirmed', { visibility: 'INTERNAL', replyToId: note.id })).toMatchObject({ __typename: 'Message', seq: 4 });
    const after = await history(carol.token, id);
    expect(after.lastSeq).toBe(2);
    expect(after.lastMessage?.body).toBe('We are looking into it');
  });

  it('concurrent notes and messages (written together by the group commit) keep both numberings without holes', async () => {
    const id = await carolsTicket('batch');
    const sends = Array.from({ length: 30 }, (_, i) => sent(i % 3 === 0 ? ann.token : L.admin.token, id, `m${i}`, i % 3 === 0 ? 'PUBLIC' : 'INTERNAL'));
    await Promise.all(sends);
    const staff = (await history(ann.token, id)).messages.nodes;
    expect(staff.map((m) => m.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    const customer = (await history(carol.token, id)).messages.nodes;
    expect(customer.map((m) => m.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    // The customer's order is the staff order with the notes taken out.
    expect(customer.map((m) => m.id)).toEqual(staff.filter((m) => m.visibility === 'PUBLIC').map((m) => m.id));
  });

  it('unread counts: notes never count for the customer; read marks move in each numbering', async () => {
    const id = await carolsTicket();
    await sent(ann.token, id, 'note one', 'INTERNAL');
    await sent(ann.token, id, 'note two', 'INTERNAL');
    await sent(ann.token, id, 'Hello Carol');
    await sent(ann.token, id, 'note three', 'INTERNAL');
    // Carol wrote seq 1 (read); one public message since: 1 unread, not 4.
    const before = await history(carol.token, id);
    expect([before.viewerUnreadCount, before.viewerLastReadSeq, before.lastSeq]).toEqual([1, 1, 2]);
    expect((await L.t.exec(MarkRead, { conversationId: id, seq: 2 }, { token: carol.token })).data!.markRead.__typename).toBe('MutationMarkReadSuccess');
    const read = await history(carol.token, id);
    expect([read.viewerUnreadCount, read.viewerLastReadSeq]).toEqual([0, 2]);
    // Staff see the customer's read mark in their numbering: through the public message at seq 4.
    const staff = await history(ann.token, id);
    expect(staff.members.find((m) => m.user.id === carol.id)?.lastReadSeq).toBe(4);
    expect(staff.viewerUnreadCount).toBe(0);
  });

  it('subscription: the customer gets public messages only, gapless, in order, and resumes by after; staff get everything', async () => {
    const id = await carolsTicket('first');
    const customer = collect(L.t.ws({ token: carol.token }), Events, { conversationId: id, after: 0 });
    const staff = collect(L.t.ws({ token: ann.token }), Events, { conversationId: id, after: 0 });
    // The replay of seq 1 shows each subscription is live.
    await customer.next(1);
    await staff.next(1);
    const bodies: Array<[string, 'PUBLIC' | 'INTERNAL']> = [
      ['note A', 'INTERNAL'],
      ['public B', 'PUBLIC'],
      ['note C', 'INTERNAL'],
      ['note D', 'INTERNAL'],
      ['public E', 'PUBLIC'],
    ];
    for (const [body, visibility] of bodies) await sent(ann.token, id, body, visibility);
    await sent(carol.token, id, 'public F');

    const staffSeen = await staff.next(7);
    expect(staffSeen.map((r) => [r.data!.conversationEvents.seq, r.data!.conversationEvents.message!.body])).toEqual([
      [1, 'first'],
      [2, 'note A'],
      [3, 'public B'],
      [4, 'note C'],
      [5, 'note D'],
      [6, 'public E'],
      [7, 'public F'],
    ]);
    const customerSeen = await customer.next(4);
    // A sentinel: the customer's next event after public F must be public G, never a note.
    await sent(ann.token, id, 'note H', 'INTERNAL');
    await sent(ann.token, id, 'public G');
    await customer.next(5);
    expect(customer.results.map((r) => [r.data!.conversationEvents.seq, r.data!.conversationEvents.message!.seq, r.data!.conversationEvents.message!.body])).toEqual([
      [1, 1, 'first'],
      [2, 2, 'public B'],
      [3, 3, 'public E'],
      [4, 4, 'public F'],
      [5, 5, 'public G'],
    ]);
    expect(customerSeen.every((r) => r.data!.conversationEvents.message!.visibility === 'PUBLIC')).toBe(true);
    customer.dispose();
    staff.dispose();

    // Resume: each by the last seq it saw, in its own numbering.
    const resumed = collect(L.t.ws({ token: carol.token }), Events, { conversationId: id, after: 3 });
    expect((await resumed.next(2)).map((r) => r.data!.conversationEvents.message!.body)).toEqual(['public F', 'public G']);
    const staffResumed = collect(L.t.ws({ token: ann.token }), Events, { conversationId: id, after: 5 });
    expect((await staffResumed.next(4)).map((r) => r.data!.conversationEvents.message!.body)).toEqual(['public E', 'public F', 'note H', 'public G']);
    // Live after the resume, still gapless for the customer.
    await sent(ann.token, id, 'note I', 'INTERNAL');
    await sent(ann.token, id, 'public J');
    const live = await resumed.next(3);
    expect([live[2]!.data!.conversationEvents.seq, live[2]!.data!.conversationEvents.message!.body]).toEqual([6, 'public J']);
    expect((await staffResumed.next(6)).map((r) => r.data!.conversationEvents.seq)).toEqual([6, 7, 8, 9, 10, 11]);
    resumed.dispose();
    staffResumed.dispose();
  });

  it('typing: staff writing a note are shown typing to staff only', async () => {
    const id = await carolsTicket('typing test');
    const customer = collect(L.t.ws({ token: carol.token }), Events, { conversationId: id, after: 0 });
    const staff = collect(L.t.ws({ token: L.admin.token }), Events, { conversationId: id, after: 0 });
    await customer.next(1);
    await staff.next(1);
    expect((await L.t.exec(Typing, { conversationId: id, internal: true }, { token: ann.token })).data!.setTyping.__typename).toBe('ConversationEvent');
    await L.t.exec(Typing, { conversationId: id, internal: false }, { token: ann.token });
    await staff.next(3);
    // Events of one channel arrive in order: the customer's first TYPING is the public one, and the only one.
    await customer.next(2);
    await sent(ann.token, id, 'sentinel');
    await customer.next(3);
    expect(customer.results.map((r) => r.data!.conversationEvents.type)).toEqual(['MESSAGE_ADDED', 'TYPING', 'MESSAGE_ADDED']);
    expect(customer.results[1]!.data!.conversationEvents.seq).toBe(1);
    expect(staff.results.slice(0, 3).map((r) => r.data!.conversationEvents.type)).toEqual(['MESSAGE_ADDED', 'TYPING', 'TYPING']);
    customer.dispose();
    staff.dispose();
  });

  it('search: a note matches for staff, never for the customer', async () => {
    const id = await carolsTicket('Where is my axolotl order');
    await sent(ann.token, id, 'axolotl supplier is late again, escalate', 'INTERNAL');
    await sent(ann.token, id, 'Your axolotl ships tomorrow');
    const staff = await L.t.exec(Search, { query: 'axolotl', conversationId: id }, { token: ann.token });
    expect(staff.data!.searchMessages.nodes.map((m) => [m.seq, m.visibility])).toEqual([
      [3, 'PUBLIC'],
      [2, 'INTERNAL'],
      [1, 'PUBLIC'],
    ]);
    const customer = await L.t.exec(Search, { query: 'axolotl' }, { token: carol.token });
    expect(customer.data!.searchMessages.nodes.map((m) => [m.seq, m.body])).toEqual([
      [2, 'Your axolotl ships tomorrow'],
      [1, 'Where is my axolotl order'],
    ]);
    const escalate = await L.t.exec(Search, { query: 'escalate' }, { token: carol.token });
    expect(escalate.data!.searchMessages.nodes).toEqual([]);
    const viaKey = await L.t.exec(Search, { query: 'escalate' }, { token: L.apiKey, headers: { 'x-view-as': 'customer' } });
    expect(viaKey.data!.searchMessages.nodes).toEqual([]);
    expect((await L.t.exec(Search, { query: 'escalate' }, { token: L.apiKey })).data!.searchMessages.nodes).toHaveLength(1);
  });

  it('inbox: the customer’s unread counts never move for a note; a staff member’s do', async () => {
    const id = await carolsTicket('inbox test');
    await sent(ann.token, id, 'joining as a member', 'INTERNAL');
    const carolInbox = collect(L.t.ws({ token: carol.token }), Inbox, {});
    const annInbox = collect(L.t.ws({ token: ann.token }), Inbox, {});
    await carolInbox.next(1);
    await annInbox.next(1);
    // The admin writes (ann is a member, so her inbox hears it; carol's must not).
    await sent(L.admin.token, id, 'admin note for ann', 'INTERNAL');
    await sent(L.admin.token, id, 'Hello from support');
    const [, first] = await carolInbox.next(2);
    expect(first!.data!.inboxEvents).toMatchObject({
      type: 'UNREAD_CHANGED',
      conversationId: id,
      lastSeq: 2,
      unreadCount: 1,
      message: { seq: 2, body: 'Hello from support' },
    });
    const annSeen = await annInbox.next(3);
    expect(annSeen.slice(1).map((r) => [r.data!.inboxEvents.lastSeq, r.data!.inboxEvents.unreadCount, r.data!.inboxEvents.message?.body])).toEqual([
      [3, 1, 'admin note for ann'],
      [4, 2, 'Hello from support'],
    ]);
    carolInbox.dispose();
    annInbox.dispose();
  });
});

// -------------------------------------------------------------------------------------------------
// Legacy calls: every legacy call reads as a customer, whatever identity it acts with.

describe('internal notes never reach legacy clients', () => {
  it('legacy 000: a visitor’s room read through send_message/<pk>/ has no note', async () => {
    const session = `notes-visitor-${Date.now()}`;
    const opened = await fetch(`${L.t.url}/dowell-api/create-room/sales-agent/?session_id=${session}`);
    expect(opened.status).toBe(200);
    const roomPk = ((await opened.json()) as { room_pk: string }).room_pk;
    await sent(ann.token, roomPk, 'visitor looks like a reseller', 'INTERNAL');
    await sent(ann.token, roomPk, 'Hi, how can we help?');
    // The room as staff see it over GraphQL holds the note.
    expect((await history(ann.token, roomPk)).messages.nodes.map((m) => m.body)).toContain('visitor looks like a reseller');
    const read = await fetch(`${L.t.url}/send_message/${roomPk}/`);
    const body = (await read.json()) as { messages: Array<{ message: string }> };
    expect(body.messages.map((m) => m.message)).not.toContain('visitor looks like a reseller');
    expect(body.messages.map((m) => m.message)).toContain('Hi, how can we help?');
    // The visitor, as a GraphQL guest, reads the same.
    const visitor = await guest(L.t, L.workspaceId, session);
    expect((await history(visitor.token, roomPk)).messages.nodes.map((m) => m.body)).not.toContain('visitor looks like a reseller');
  });

  it('legacy 001: the client’s socket and message-list never carry a note', async () => {
    const form = (body: Record<string, string>) => ({ method: 'POST', body: new URLSearchParams(body) });
    const name = `notesclient${Date.now().toString(36)}`;
    const created = await fetch(`${L.t.url}/chat-app/user/`, form({ Username: name, Password: 'legacy-pass-1', role: 'client' }));
    expect(created.status).toBe(201);
    const client = (await created.json()) as { id: string };
    const opened = await fetch(`${L.t.url}/chat-app/send-message/`, form({ Username: name, Password: 'legacy-pass-1', Message_body: 'Need help', Thread_type: 'Billing' }));
    const threadId = ((await opened.json()) as { thread: string }).thread;

    const frames: Array<Record<string, unknown>> = [];
    const socket = new WebSocket(`${L.t.url.replace('http', 'ws')}/ws/chat-app/${threadId}/${client.id}/`);
    socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    await sent(L.admin.token, threadId, 'client is on the old plan', 'INTERNAL');
    await sent(L.admin.token, threadId, 'Which invoice is it about?');
    await waitFor(() => frames.some((f) => f.type === 'chat_message' && f.message === 'Which invoice is it about?'));
    expect(frames.filter((f) => f.type === 'chat_message').map((f) => f.message)).toEqual(['Which invoice is it about?']);
    socket.close();

    const listed = await fetch(`${L.t.url}/chat-app/message-list/`, form({ Username: name, Password: 'legacy-pass-1', Thread_type: 'Billing' }));
    const messages = (await listed.json()) as Array<{ Message_body: string }>;
    expect(messages.map((m) => m.Message_body)).toEqual(['Need help', 'Which invoice is it about?']);
  });

  it('legacy 002: get_ticket_messages and the live ticket feed never carry a note', async () => {
    const s: IoSocket = io(L.t.url, { autoConnect: false, reconnection: false, transports: ['websocket'] });
    const received: Array<[string, any]> = [];
    s.onAny((event: string, data: unknown) => received.push([event, data]));
    s.connect();
    await new Promise((resolve, reject) => s.once('connect', () => resolve(undefined)).once('connect_error', reject));
    const creds = { workspace_id: L.workspaceId, api_key: L.apiKey };
    const ask = async (event: string, payload: Record<string, unknown>) => {
      const before = received.length;
      s.emit(event, payload);
      await waitFor(() => received.slice(before).some(([, d]) => d?.operation === event));
      return received.slice(before).find(([, d]) => d?.operation === event)![1];
    };
    const customer = `notes-customer-${Date.now()}`;
    const created = await ask('create_ticket', { user_id: customer, product: productSlug, ...creds });
    const ticketId = created.data._id as string;
    await ask('ticket_message_event', { ticket_id: ticketId, product: productSlug, message_data: 'Still broken', user_id: customer, reply_to: 'None', ...creds });

    await sent(ann.token, ticketId, 'known bug, fix ships Friday', 'INTERNAL');
    await sent(ann.token, ticketId, 'We have a fix coming');
    await waitFor(() => received.some(([e, d]) => e === 'ticket_message_response' && d?.data?.message_data === 'We have a fix coming'));
    const bodies = received.filter(([e]) => e === 'ticket_message_response').map(([, d]) => d.data?.message_data);
    expect(bodies).not.toContain('known bug, fix ships Friday');
    const listed = await ask('get_ticket_messages', { ticket_id: ticketId, product: productSlug, ...creds });
    expect(listed.data.map((m: { message_data: string }) => m.message_data)).toEqual(['Still broken', 'We have a fix coming']);
    s.disconnect();
  });

  it('legacy 004: the socket of a customer in an agent/client thread is pushed public messages only', async () => {
    const dana = await member('CLIENT', 'dana');
    const opened = await L.t.exec(ThreadMessage, { input: { workspaceId: L.workspaceId, threadType: 'Returns', body: 'I want to return a lamp' } }, { token: dana.token });
    if (opened.data?.sendThreadMessage.__typename !== 'ThreadMessageSent') throw new Error(JSON.stringify(opened));
    const threadId = opened.data.sendThreadMessage.thread.id;
    const frames: Array<Record<string, unknown>> = [];
    const socket = new WebSocket(`${L.t.url.replace('http', 'ws')}/ws/chat/room/?token=${dana.token}`);
    socket.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    await sent(ann.token, threadId, 'lamp was bought 2 years ago', 'INTERNAL');
    await sent(ann.token, threadId, 'Sure, send us the order number');
    await waitFor(() => frames.some((f) => f.message_body === 'Sure, send us the order number'));
    expect(frames.map((f) => f.message_body)).toEqual(['Sure, send us the order number']);
    socket.close();
  });
});

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
