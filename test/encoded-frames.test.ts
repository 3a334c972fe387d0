/**
 * Encode once, write many (src/transport/frames.ts): a live event's `next` message is serialized
 * once per shared execution and the same bytes go to every subscriber of it, with only the
 * operation id spliced in. These tests read the raw frames with a plain `ws` client and check that
 * subscribers with different viewers never receive bytes encoded for another's rights or
 * selection: staff and a customer of a support conversation with an internal note (same document,
 * same variables), two staff with a field that depends on who asks (reactedByMe), and two
 * selections on one socket. Every frame must also be exactly the message graphql-ws would have
 * serialized itself, as a text frame.
 */
import { parse, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './helpers/app.js';
import { workspace, type Person } from './helpers/fixtures.js';
import { openTicket, product } from './helpers/support.js';

// Plain documents: the raw client sends them as text, and they stay out of the codegen'd set.
const FULL = `subscription EncodedFull($id: ID!, $after: Int) {
  conversationEvents(conversationId: $id, after: $after) {
    type seq
    message { id seq body visibility }
  }
}`;
const SHORT = `subscription EncodedShort($id: ID!, $after: Int) {
  conversationEvents(conversationId: $id, after: $after) { type seq }
}`;
const MINE = `subscription EncodedMine($id: ID!, $after: Int) {
  conversationEvents(conversationId: $id, after: $after) {
    type seq
    message { id reactions { emoji count reactedByMe } }
  }
}`;

const doc = (source: string) => parse(source) as DocumentNode as TypedDocumentNode<Record<string, any>, Record<string, unknown>>;
const Send = doc(`mutation EncodedSend($input: SendMessageInput!) {
  sendMessage(input: $input) { __typename ... on Message { id seq } ... on Error { code message } }
}`);
const React = doc(`mutation EncodedReact($messageId: ID!, $emoji: String!) {
  addReaction(messageId: $messageId, emoji: $emoji) { __typename ... on Error { code message } }
}`);

interface Frame {
  /** The frame's bytes as received. */
  text: string;
  binary: boolean;
  message: { id?: string; type: string; payload?: { data?: { conversationEvents?: Record<string, any> }; errors?: unknown } };
}

/** A graphql-transport-ws client on a plain `ws` socket that keeps every frame's raw text. */
async function rawClient(t: TestApp, token: string) {
  const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
  const frames: Frame[] = [];
  let acked!: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  socket.on('message', (data, binary) => {
    const text = String(data);
    const message = JSON.parse(text) as Frame['message'];
    if (message.type === 'connection_ack') acked();
    frames.push({ text, binary, message });
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await ack;
  return {
    socket,
    frames,
    subscribe(id: string, query: string, variables: Record<string, unknown>) {
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    },
    /** The `next` frames of one operation. */
    next(id: string): Frame[] {
      return frames.filter((f) => f.message.type === 'next' && f.message.id === id);
    },
  };
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The payload bytes of a `next` frame: what follows `"payload":`, the closing brace excluded. */
function payloadBytes(frame: Frame): string {
  const start = frame.text.indexOf('"payload":') + '"payload":'.length;
  return frame.text.slice(start, -1);
}

let t: TestApp;
let workspaceId: string;
let admin: Person;
let ann: Person; // an agent
let carol: Person; // a customer
let productSlug: string;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  t = await startTestApp();
  const ws = await workspace(t, { ann: 'AGENT', carol: 'CLIENT' });
  workspaceId = ws.id;
  admin = ws.admin;
  ann = ws.people.ann!;
  carol = ws.people.carol!;
  productSlug = (await product(t, admin.token, workspaceId)).slug;
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await t?.close();
});

async function sent(token: string, conversationId: string, body: string, visibility: 'PUBLIC' | 'INTERNAL' = 'PUBLIC') {
  const res = await t.exec(Send, { input: { conversationId, body, visibility } }, { token });
  const out = res.data?.sendMessage;
  if (out?.__typename !== 'Message') throw new Error(JSON.stringify(res));
  return out as { id: string; seq: number };
}

describe('live messages encoded once per shared execution', () => {
  it('staff and a customer with the same document get their own bytes: the customer never a note, nor a staff seq; frames are exactly graphql-ws messages', async () => {
    const id = (await openTicket(t, carol.token, { workspaceId, productSlug, message: 'first' })).id;
    const staff = await rawClient(t, ann.token);
    const otherStaff = await rawClient(t, admin.token);
    const customer = await rawClient(t, carol.token);
    sockets.push(staff.socket, otherStaff.socket, customer.socket);
    const variables = { id, after: 1 };
    // Two operations of the same document on one socket, one of another selection beside them.
    staff.subscribe('full-1', FULL, variables);
    staff.subscribe('full-2', FULL, variables);
    staff.subscribe('short', SHORT, variables);
    otherStaff.subscribe('x', FULL, variables);
    customer.subscribe('full-1', FULL, variables);
    customer.subscribe('short', SHORT, variables);
    // Live once a message sent now arrives everywhere.
    await sent(ann.token, id, 'warm-up');
    await until(() => [staff.next('full-1'), staff.next('full-2'), staff.next('short'), otherStaff.next('x'), customer.next('full-1'), customer.next('short')].every((f) => f.length === 1), 'every subscription to be live');

    const note = `internal note ${Date.now()}`;
    const reusedBefore = t.app.frames.reused;
    const pushedBefore = t.app.frames.pushed;
    await sent(ann.token, id, note, 'INTERNAL');
    const after = await sent(ann.token, id, 'public after the note');
    await until(() => staff.next('full-1').length === 3 && staff.next('short').length === 3 && otherStaff.next('x').length === 3, 'staff to get all three');
    await until(() => customer.next('full-1').length === 2 && customer.next('short').length === 2, 'the customer to get the two public ones');
    // Nothing more arrives for the customer (the note is not merely late).
    await new Promise((r) => setTimeout(r, 300));
    expect(customer.next('full-1')).toHaveLength(2);

    for (const frame of [...staff.frames, ...otherStaff.frames, ...customer.frames].filter((f) => f.message.type === 'next')) {
      // A text frame, byte for byte the message graphql-ws serializes ({ id, type, payload }).
      expect(frame.binary).toBe(false);
      expect(frame.text).toBe(JSON.stringify({ id: frame.message.id, type: 'next', payload: frame.message.payload }));
      expect(frame.message.payload?.errors).toBeUndefined();
    }

    // Staff get the note, in the staff numbering.
    const staffEvents = staff.next('full-1').map((f) => f.message.payload!.data!.conversationEvents!);
    expect(staffEvents.map((e) => [e.message.body, e.message.visibility, e.seq])).toEqual([
      ['warm-up', 'PUBLIC', 2],
      [note, 'INTERNAL', 3],
      ['public after the note', 'PUBLIC', after.seq],
    ]);
    // The customer never gets a byte of it, and numbers the public message after it without a hole.
    for (const frame of customer.frames) expect(frame.text).not.toContain(note);
    const customerEvents = customer.next('full-1').map((f) => f.message.payload!.data!.conversationEvents!);
    expect(customerEvents.map((e) => [e.message.body, e.message.visibility, e.seq, e.message.seq])).toEqual([
      ['warm-up', 'PUBLIC', 2, 2],
      ['public after the note', 'PUBLIC', 3, 3],
    ]);
    expect(after.seq).toBe(4);
    // The public message after the note: the same document and variables, different bytes per audience.
    expect(payloadBytes(customer.next('full-1')[1]!)).not.toBe(payloadBytes(staff.next('full-1')[2]!));
    expect(payloadBytes(customer.next('short')[1]!)).not.toBe(payloadBytes(staff.next('short')[2]!));

    // Within an audience and a selection, the same bytes for everyone, serialized once (three
    // staff operations of FULL, two events: four reuses); only the id differs.
    expect(t.app.frames.reused - reusedBefore).toBeGreaterThanOrEqual(4);
    // Each of them written in the call that pushed its event (src/pubsub/push.ts), none read by
    // next(): staff 3 operations × 2 events, the other staff 2, the customer 2 × 1.
    expect(t.app.frames.pushed - pushedBefore).toBe(10);
    for (let i = 0; i < 3; i++) {
      const bytes = payloadBytes(staff.next('full-1')[i]!);
      expect(payloadBytes(staff.next('full-2')[i]!)).toBe(bytes);
      expect(payloadBytes(otherStaff.next('x')[i]!)).toBe(bytes);
      expect(staff.next('full-2')[i]!.text).toBe(staff.next('full-1')[i]!.text.replace('"id":"full-1"', '"id":"full-2"'));
    }
    // Each selection gets its own bytes: the short one carries no message at all.
    for (const frame of [...staff.next('short'), ...customer.next('short')]) {
      expect(Object.keys(frame.message.payload!.data!.conversationEvents!)).toEqual(['type', 'seq']);
    }
  });

  it('a field that depends on who asks (reactedByMe) is executed and encoded per viewer, even with the same document and variables', async () => {
    const id = (await openTicket(t, carol.token, { workspaceId, productSlug, message: 'react to me' })).id;
    const reacting = await rawClient(t, ann.token);
    const watching = await rawClient(t, admin.token);
    sockets.push(reacting.socket, watching.socket);
    const variables = { id, after: 1 };
    reacting.subscribe('mine', MINE, variables);
    watching.subscribe('mine', MINE, variables);
    const target = await sent(ann.token, id, 'target');
    await until(() => reacting.next('mine').length === 1 && watching.next('mine').length === 1, 'both to be live');

    const res = await t.exec(React, { messageId: target.id, emoji: '👍' }, { token: ann.token });
    expect(res.data?.addReaction.__typename).not.toMatch(/Error$/);
    await until(() => reacting.next('mine').length === 2 && watching.next('mine').length === 2, 'the reaction to arrive');
    const reaction = (c: typeof reacting) => c.next('mine')[1]!.message.payload!.data!.conversationEvents!;
    expect(reaction(reacting)).toMatchObject({ type: 'REACTION_ADDED', message: { reactions: [{ emoji: '👍', count: 1, reactedByMe: true }] } });
    expect(reaction(watching)).toMatchObject({ type: 'REACTION_ADDED', message: { reactions: [{ emoji: '👍', count: 1, reactedByMe: false }] } });
    expect(payloadBytes(reacting.next('mine')[1]!)).not.toBe(payloadBytes(watching.next('mine')[1]!));
  });
});
