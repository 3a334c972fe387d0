/**
 * The one stream (positions: messages and every change to them) with internal notes in it.
 * Staff resume over every entry in the staff numbering, notes and changes to notes included;
 * customers have their own gapless numbering of what they can see (public messages and changes
 * to public messages) and never get a note or a change to one, on resume or live. Reactions and
 * pins on a note are staff-only (NOT_FOUND to a customer), and a mention in a note names only
 * people who can see notes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { workspace, type Person } from './helpers/fixtures.js';
import { openTicket, product } from './helpers/support.js';

const SetUsername = graphql(`
  mutation StreamNotesSetUsername($username: String!) {
    setUsername(username: $username) {
      __typename
    }
  }
`);

const Send = graphql(`
  mutation StreamNotesSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        position
        visibility
        mentions {
          userId
          username
        }
      }
      ... on Error {
        code
      }
    }
  }
`);

const React = graphql(`
  mutation StreamNotesReact($messageId: ID!, $emoji: String!) {
    addReaction(messageId: $messageId, emoji: $emoji) {
      __typename
      ... on Message {
        position
      }
      ... on Error {
        code
      }
    }
  }
`);

const Pin = graphql(`
  mutation StreamNotesPin($messageId: ID!) {
    pinMessage(messageId: $messageId) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Edit = graphql(`
  mutation StreamNotesEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Delete = graphql(`
  mutation StreamNotesDelete($id: ID!) {
    deleteMessage(id: $id) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Feed = graphql(`
  query StreamNotesFeed {
    notifications(first: 100) {
      nodes {
        kind
        messageId
        excerpt
      }
    }
  }
`);

const State = graphql(`
  query StreamNotesState($id: ID!) {
    conversation(id: $id) {
      lastSeq
      lastPosition
      pinnedMessages {
        id
        seq
        position
      }
      messages(first: 50) {
        nodes {
          id
          seq
          position
          body
        }
      }
    }
  }
`);

const Events = graphql(`
  subscription StreamNotesEvents($id: ID!, $afterPosition: Int, $after: Int) {
    conversationEvents(conversationId: $id, afterPosition: $afterPosition, after: $after) {
      type
      seq
      position
      emoji
      message {
        id
        seq
        position
        body
        visibility
        deleted
        reactions {
          emoji
          count
        }
      }
    }
  }
`);

let t: TestApp;
let workspaceId: string;
let admin: Person;
let ann: Person; // an agent
let bob: Person; // another agent
let carol: Person; // a customer (CLIENT)
let productSlug: string;
const tag = `${process.pid}${Date.now() % 100000}`;

async function named(p: Person, name: string): Promise<Person> {
  const res = await t.exec(SetUsername, { username: `${name}${tag}` }, { token: p.token });
  expect(res.data?.setUsername.__typename).not.toMatch(/Error$/);
  return p;
}

async function sent(token: string, conversationId: string, body: string, visibility: 'PUBLIC' | 'INTERNAL' = 'PUBLIC') {
  const res = await t.exec(Send, { input: { conversationId, body, visibility } }, { token });
  const out = res.data?.sendMessage;
  if (out?.__typename !== 'Message') throw new Error(JSON.stringify(res));
  return out;
}

/** A mutation's result, which must not be an error. */
async function ok(p: Promise<{ data?: unknown; errors?: unknown }>): Promise<void> {
  const res = await p;
  const out = Object.values((res.data ?? {}) as Record<string, { __typename?: string }>)[0];
  if (!out?.__typename || out.__typename.endsWith('Error')) throw new Error(JSON.stringify(res));
}

beforeAll(async () => {
  t = await startTestApp();
  const ws = await workspace(t, { ann: 'AGENT', bob: 'AGENT', carol: 'CLIENT' });
  workspaceId = ws.id;
  admin = ws.admin;
  ann = await named(ws.people.ann!, 'ann');
  bob = await named(ws.people.bob!, 'bob');
  carol = await named(ws.people.carol!, 'carol');
  productSlug = (await product(t, admin.token, workspaceId)).slug;
});
afterAll(async () => {
  await t?.close();
});

describe('one stream with internal notes', () => {
  it('a customer resuming by afterPosition across a note and staff-only changes to it gets a gapless numbering and every public change once; staff get all', async () => {
    const id = (await openTicket(t, carol.token, { workspaceId, productSlug, message: 'first' })).id;
    const b = await sent(ann.token, id, 'public B');
    // Staff and customer number the same so far: no note yet.
    expect(b).toMatchObject({ seq: 2, position: 2 });

    const live = collect(t.ws({ token: carol.token }), Events, { id, afterPosition: 0 });
    const seenLive = (await live.next(2)).map((r) => r.data!.conversationEvents);
    expect(seenLive.map((e) => [e.type, e.position, e.message!.body])).toEqual([
      ['MESSAGE_ADDED', 1, 'first'],
      ['MESSAGE_ADDED', 2, 'public B'],
    ]);
    live.dispose();
    const lastSeen = seenLive.at(-1)!.position!;

    // While the customer is away: a note, staff-only changes to it, and public changes.
    const note = await sent(ann.token, id, 'customer is a repeat refunder', 'INTERNAL'); // staff position 3
    expect(note).toMatchObject({ seq: 3, position: 3, visibility: 'INTERNAL' });
    await ok(t.exec(React, { messageId: note.id, emoji: '👀' }, { token: bob.token })); // 4, staff only
    await ok(t.exec(Pin, { messageId: note.id }, { token: ann.token })); // 5, staff only
    await ok(t.exec(React, { messageId: b.id, emoji: '👍' }, { token: ann.token })); // 6 = public 3
    await ok(t.exec(Edit, { id: note.id, body: 'customer is a repeat refunder (checked)' }, { token: ann.token })); // 7, staff only
    await ok(t.exec(Edit, { id: b.id, body: 'public B, edited' }, { token: ann.token })); // 8 = public 4
    const c = await sent(ann.token, id, 'public C'); // 9 = public 5

    // The customer cannot touch the note: it does not exist for them.
    expect((await t.exec(React, { messageId: note.id, emoji: '👍' }, { token: carol.token })).data?.addReaction).toMatchObject({ code: 'NOT_FOUND' });
    expect((await t.exec(Pin, { messageId: note.id }, { token: carol.token })).data?.pinMessage).toMatchObject({ code: 'NOT_FOUND' });

    const resumed = collect(t.ws({ token: carol.token }), Events, { id, afterPosition: lastSeen });
    const missed = (await resumed.next(3)).map((r) => r.data!.conversationEvents);
    expect(missed.map((e) => [e.type, e.position, e.seq, e.message!.body])).toEqual([
      // Replayed changes carry the message as it is now (changes.ts).
      ['REACTION_ADDED', 3, 2, 'public B, edited'],
      ['MESSAGE_EDITED', 4, 2, 'public B, edited'],
      ['MESSAGE_ADDED', 5, 3, 'public C'],
    ]);
    expect(missed[0]!.message!.reactions).toEqual([{ emoji: '👍', count: 1 }]);
    // Live after the resume: a staff-only change, then public ones; the customer's numbers go on with no hole.
    await ok(t.exec(React, { messageId: note.id, emoji: '✅' }, { token: ann.token })); // 10, staff only
    await ok(t.exec(Delete, { id: b.id }, { token: ann.token })); // 11 = public 6
    await ok(t.exec(Delete, { id: note.id }, { token: ann.token })); // 12, staff only
    const d = await sent(ann.token, id, 'public D'); // 13 = public 7
    const after = (await resumed.next(5)).slice(3).map((r) => r.data!.conversationEvents);
    expect(after.map((e) => [e.type, e.position, e.message!.id])).toEqual([
      ['MESSAGE_DELETED', 6, b.id],
      ['MESSAGE_ADDED', 7, d.id],
    ]);
    expect(resumed.results.every((r) => r.data!.conversationEvents.message!.visibility === 'PUBLIC')).toBe(true);
    resumed.dispose();

    // Resuming from a position in the middle (the public reaction) gives exactly what followed it.
    const middle = collect(t.ws({ token: carol.token }), Events, { id, afterPosition: 3 });
    expect((await middle.next(4)).map((r) => r.data!.conversationEvents.position)).toEqual([4, 5, 6, 7]);
    middle.dispose();
    // An older client resuming by its seq (public C is its seq 3) gets the messages after it, in its numbering.
    const bySeq = collect(t.ws({ token: carol.token }), Events, { id, after: 3 });
    expect((await bySeq.next(1)).map((r) => [r.data!.conversationEvents.type, r.data!.conversationEvents.seq, r.data!.conversationEvents.position])).toEqual([
      ['MESSAGE_ADDED', 4, 7],
    ]);
    bySeq.dispose();

    // Staff resume from the same place in their numbering and get the note and every change to it.
    const staff = collect(t.ws({ token: bob.token }), Events, { id, afterPosition: lastSeen });
    const all = (await staff.next(11)).map((r) => r.data!.conversationEvents);
    expect(all.map((e) => [e.type, e.position, e.message!.id])).toEqual([
      ['MESSAGE_ADDED', 3, note.id],
      ['REACTION_ADDED', 4, note.id],
      ['MESSAGE_PINNED', 5, note.id],
      ['REACTION_ADDED', 6, b.id],
      ['MESSAGE_EDITED', 7, note.id],
      ['MESSAGE_EDITED', 8, b.id],
      ['MESSAGE_ADDED', 9, c.id],
      ['REACTION_ADDED', 10, note.id],
      ['MESSAGE_DELETED', 11, b.id],
      ['MESSAGE_DELETED', 12, note.id],
      ['MESSAGE_ADDED', 13, d.id],
    ]);
    staff.dispose();

    // Reads agree with the streams, each in its own numbering.
    const mine = (await t.exec(State, { id }, { token: carol.token })).data!.conversation;
    expect([mine.lastSeq, mine.lastPosition]).toEqual([4, 7]);
    expect(mine.messages.nodes.map((m) => [m.seq, m.position])).toEqual([
      [1, 1],
      [2, 2],
      [3, 5],
      [4, 7],
    ]);
    const theirs = (await t.exec(State, { id }, { token: ann.token })).data!.conversation;
    expect([theirs.lastSeq, theirs.lastPosition]).toEqual([5, 13]);
  });

  it('a pinned note is listed for staff only; a mention, @here or reply in a note notifies staff only', async () => {
    const id = (await openTicket(t, carol.token, { workspaceId, productSlug, message: 'hello' })).id;
    const opening = (await t.exec(State, { id }, { token: carol.token })).data!.conversation.messages.nodes[0]!;
    const pub = await sent(ann.token, id, 'Hi there');
    const note = await sent(ann.token, id, `@bob${tag} see this; @carol${tag} must not be told`, 'INTERNAL');
    // The customer is not named by a note (nothing about it may reach her); the agent is.
    expect(note.mentions).toEqual([{ userId: bob.id, username: `bob${tag}` }]);
    const greeting = await sent(ann.token, id, `@carol${tag} we are on it`);
    expect(greeting.mentions).toEqual([{ userId: carol.id, username: `carol${tag}` }]);

    // A note answering the customer's message, calling on everyone, naming her: still nothing reaches her.
    const aside = await t.exec(
      Send,
      { input: { conversationId: id, body: `@here @carol${tag} wants a refund`, visibility: 'INTERNAL', replyToId: opening.id } },
      { token: bob.token },
    );
    if (aside.data?.sendMessage.__typename !== 'Message') throw new Error(JSON.stringify(aside));
    const asideId = aside.data.sendMessage.id;
    const carolFeed = (await t.exec(Feed, {}, { token: carol.token })).data!.notifications.nodes;
    expect(carolFeed.map((n) => [n.kind, n.messageId])).toEqual([['MENTION', greeting.id]]);
    const bobFeed = (await t.exec(Feed, {}, { token: bob.token })).data!.notifications.nodes;
    expect(bobFeed.filter((n) => n.messageId === note.id).map((n) => n.kind)).toEqual(['MENTION']);
    // @here from staff in a ticket reaches its members who see notes: ann (a member since she wrote), not carol.
    const annFeed = (await t.exec(Feed, {}, { token: ann.token })).data!.notifications.nodes;
    expect(annFeed.filter((n) => n.messageId === asideId).map((n) => n.kind)).toEqual(['MENTION']);

    await ok(t.exec(Pin, { messageId: note.id }, { token: ann.token }));
    await ok(t.exec(Pin, { messageId: pub.id }, { token: ann.token }));
    const staff = (await t.exec(State, { id }, { token: ann.token })).data!.conversation;
    expect(staff.pinnedMessages.map((m) => m.id)).toEqual([pub.id, note.id]);
    const customer = (await t.exec(State, { id }, { token: carol.token })).data!.conversation;
    expect(customer.pinnedMessages.map((m) => [m.id, m.seq])).toEqual([[pub.id, 2]]);
  });
});
