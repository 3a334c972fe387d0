/**
 * Reactions, pins, and the one stream they share with messages, edits and deletes, over real
 * HTTP and graphql-ws: concurrent identical reactions (one row each, counts right), paging
 * reactors, a subscriber that resumes by position and gets each missed change exactly once, bad
 * input refused with a typed error and no change, and nothing of another workspace visible.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, until, type TestApp } from './helpers/app.js';
import { person, workspace, type Person } from './helpers/fixtures.js';

const CreateRoom = graphql(`
  mutation RxCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation RxOpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
      }
    }
  }
`);

const Send = graphql(`
  mutation RxSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        position
      }
      ... on Error {
        code
      }
    }
  }
`);

const React = graphql(`
  mutation RxReact($messageId: ID!, $emoji: String!) {
    addReaction(messageId: $messageId, emoji: $emoji) {
      __typename
      ... on Message {
        id
        reactions {
          emoji
          count
          reactedByMe
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Unreact = graphql(`
  mutation RxUnreact($messageId: ID!, $emoji: String!) {
    removeReaction(messageId: $messageId, emoji: $emoji) {
      __typename
      ... on Message {
        reactions {
          emoji
          count
        }
      }
      ... on Error {
        code
      }
    }
  }
`);

const Pin = graphql(`
  mutation RxPin($messageId: ID!) {
    pinMessage(messageId: $messageId) {
      __typename
      ... on Message {
        pinned
        pinnedById
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Unpin = graphql(`
  mutation RxUnpin($messageId: ID!) {
    unpinMessage(messageId: $messageId) {
      __typename
      ... on Message {
        pinned
      }
      ... on Error {
        code
      }
    }
  }
`);

const Edit = graphql(`
  mutation RxEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const Delete = graphql(`
  mutation RxDelete($id: ID!) {
    deleteMessage(id: $id) {
      __typename
      ... on Error {
        code
      }
    }
  }
`);

const State = graphql(`
  query RxState($id: ID!, $emoji: String!, $after: String) {
    conversation(id: $id) {
      lastPosition
      pinnedMessages {
        id
      }
      messages(last: 10) {
        edges {
          node {
            id
            body
            deleted
            pinned
            reactions {
              emoji
              count
              firstReactorIds
              reactedByMe
            }
            reactors(emoji: $emoji, first: 5, after: $after) {
              userIds
              endCursor
              hasNextPage
            }
          }
        }
      }
    }
  }
`);

const Events = graphql(`
  subscription RxEvents($id: ID!, $afterPosition: Int, $after: Int) {
    conversationEvents(conversationId: $id, afterPosition: $afterPosition, after: $after) {
      type
      seq
      position
      userId
      emoji
      message {
        id
        body
        pinned
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
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function room(token: string, workspaceId: string, memberIds: string[]): Promise<string> {
  const res = await t.exec(CreateRoom, { input: { workspaceId, name: 'Room', memberIds } }, { token });
  if (res.data?.createRoom.__typename !== 'Room') throw new Error(JSON.stringify(res));
  return res.data.createRoom.id;
}

async function send(token: string, conversationId: string, body: string) {
  const res = await t.exec(Send, { input: { conversationId, body } }, { token });
  if (res.data?.sendMessage.__typename !== 'Message') throw new Error(JSON.stringify(res));
  return res.data.sendMessage;
}

async function state(token: string, id: string, emoji = '👍', after: string | null = null) {
  const res = await t.exec(State, { id, emoji, after }, { token });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.conversation;
}

describe('reactions', () => {
  it('people reacting with the same emoji at once each get one row, counts are right, and reactors page', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `p${i}`);
    const ws = await workspace(t, Object.fromEntries(names.map((n) => [n, 'CLIENT' as const])));
    const people: Person[] = names.map((n) => ws.people[n]!);
    const id = await room(ws.admin.token, ws.id, people.map((p) => p.id));
    const message = await send(ws.admin.token, id, 'react to me');
    const live = collect(t.ws({ token: ws.admin.token }), Events, { id });
    await until(() => t.app.services.pubsub.stats.subscribers > 0);

    // Everyone at once, each twice: the second of each changes nothing.
    const results = await Promise.all(people.flatMap((p) => [0, 1].map(() => t.exec(React, { messageId: message.id, emoji: '👍' }, { token: p.token }))));
    for (const r of results) expect(r.data?.addReaction.__typename).toBe('Message');
    const after = await state(ws.admin.token, id);
    const node = after.messages.edges.find((e) => e.node.id === message.id)!.node;
    expect(node.reactions).toEqual([{ emoji: '👍', count: 12, firstReactorIds: expect.any(Array), reactedByMe: false }]);
    expect(node.reactions[0]!.firstReactorIds).toHaveLength(10);
    expect(await t.app.services.db.reaction.count({ where: { messageId: message.id } })).toBe(12);
    // Exactly one event per row, each with its position, counts rising to 12.
    const events = await live.next(12);
    await new Promise((r) => setTimeout(r, 200));
    expect(live.results).toHaveLength(12);
    const added = events.map((e) => e.data!.conversationEvents);
    expect(added.every((e) => e.type === 'REACTION_ADDED' && e.emoji === '👍')).toBe(true);
    expect(new Set(added.map((e) => e.userId))).toEqual(new Set(people.map((p) => p.id)));
    expect(added.map((e) => e.message!.reactions[0]!.count)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(added.map((e) => e.position)).toEqual(Array.from({ length: 12 }, (_, i) => message.position + 1 + i));

    // reactedByMe for the 12th, who is beyond the first ten listed, and for someone who did not react.
    const last = people[11]!;
    const mine = (await state(last.token, id)).messages.edges.find((e) => e.node.id === message.id)!.node;
    expect(mine.reactions[0]!.reactedByMe).toBe(true);
    // All twelve, five a page.
    const pages: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++) {
      const page: { userIds: string[]; endCursor?: string | null; hasNextPage: boolean } = (await state(ws.admin.token, id, "👍", cursor)).messages.edges.find((e) => e.node.id === message.id)!.node.reactors;
      pages.push(...page.userIds);
      cursor = page.endCursor ?? null;
      if (!page.hasNextPage) break;
    }
    expect(pages).toHaveLength(12);
    expect(new Set(pages)).toEqual(new Set(people.map((p) => p.id)));
    expect(pages.slice(0, 10)).toEqual(node.reactions[0]!.firstReactorIds);

    // Taking a reaction back, twice: one change.
    const removed = await t.exec(Unreact, { messageId: message.id, emoji: '👍' }, { token: last.token });
    expect(removed.data?.removeReaction).toEqual({ __typename: 'Message', reactions: [{ emoji: '👍', count: 11 }] });
    const again = await t.exec(Unreact, { messageId: message.id, emoji: '👍' }, { token: last.token });
    expect(again.data?.removeReaction).toEqual({ __typename: 'Message', reactions: [{ emoji: '👍', count: 11 }] });
    const [removedEvent] = (await live.next(13)).slice(12);
    expect(removedEvent!.data!.conversationEvents).toMatchObject({ type: 'REACTION_REMOVED', userId: last.id, emoji: '👍' });
    await new Promise((r) => setTimeout(r, 200));
    expect(live.results).toHaveLength(13);
  }, 120_000);

  it('refuses an unknown emoji format and a deleted message with a ValidationError (BAD_USER_INPUT), changing nothing', async () => {
    const ws = await workspace(t, { ann: 'CLIENT' });
    const ann = ws.people.ann!;
    const id = await room(ws.admin.token, ws.id, [ann.id]);
    const message = await send(ws.admin.token, id, 'hello');
    const before = await state(ann.token, id);
    for (const bad of ['thumbsup', ':Thumbs Up:', '👍👍', 'a', '', ':' + 'x'.repeat(40) + ':']) {
      const res = await t.exec(React, { messageId: message.id, emoji: bad }, { token: ann.token });
      expect(res.data?.addReaction, bad).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    }
    expect((await t.exec(React, { messageId: message.id, emoji: ':party_parrot:' }, { token: ann.token })).data?.addReaction.__typename).toBe('Message');
    const deleted = await send(ws.admin.token, id, 'to delete');
    expect((await t.exec(Delete, { id: deleted.id }, { token: ws.admin.token })).data?.deleteMessage.__typename).toBe('Message');
    const mid = await state(ann.token, id);
    const onDeleted = await t.exec(React, { messageId: deleted.id, emoji: '👍' }, { token: ann.token });
    expect(onDeleted.data?.addReaction).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const after = await state(ann.token, id);
    expect(after).toEqual(mid);
    expect(after.messages.edges.find((e) => e.node.id === deleted.id)!.node.reactions).toEqual([]);
    expect(before.lastPosition + 1 + 1 + 1).toBe(after.lastPosition); // the shortcode reaction, the message, its deletion
  });
});

describe('pins', () => {
  it('staff and owners pin; a member who cannot write there is FORBIDDEN and nothing changes; a stranger gets NOT_FOUND', async () => {
    const ws = await workspace(t, { agent: 'AGENT', client: 'CLIENT', outsider: 'CLIENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.client!.id]);
    const first = await send(ws.admin.token, id, 'first');
    const second = await send(ws.admin.token, id, 'second');
    const before = await state(ws.admin.token, id);

    const refused = await t.exec(Pin, { messageId: first.id }, { token: ws.people.client!.token });
    expect(refused.data?.pinMessage).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const stranger = await t.exec(Pin, { messageId: first.id }, { token: ws.people.outsider!.token });
    expect(stranger.data?.pinMessage).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await state(ws.admin.token, id)).toEqual(before);

    expect((await t.exec(Pin, { messageId: first.id }, { token: ws.people.agent!.token })).data?.pinMessage).toEqual({
      __typename: 'Message',
      pinned: true,
      pinnedById: ws.people.agent!.id,
    });
    expect((await t.exec(Pin, { messageId: second.id }, { token: ws.admin.token })).data?.pinMessage).toMatchObject({ pinned: true });
    // Pinning again changes nothing.
    const position = (await state(ws.admin.token, id)).lastPosition;
    expect((await t.exec(Pin, { messageId: second.id }, { token: ws.admin.token })).data?.pinMessage).toMatchObject({ pinned: true });
    const pinned = await state(ws.people.client!.token, id);
    expect(pinned.lastPosition).toBe(position);
    expect(pinned.pinnedMessages.map((m) => m.id)).toEqual([second.id, first.id]);
    expect((await t.exec(Unpin, { messageId: second.id }, { token: ws.people.client!.token })).data?.unpinMessage).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.exec(Unpin, { messageId: second.id }, { token: ws.admin.token })).data?.unpinMessage).toEqual({ __typename: 'Message', pinned: false });
    expect((await state(ws.admin.token, id)).pinnedMessages.map((m) => m.id)).toEqual([first.id]);
  });

  it('either party of a one-to-one thread pins', async () => {
    const ws = await workspace(t, { a: 'CLIENT', b: 'CLIENT' });
    const opened = await t.exec(OpenDirect, { workspaceId: ws.id, userId: ws.people.b!.id }, { token: ws.people.a!.token });
    if (opened.data?.openDirectThread.__typename !== 'Thread') throw new Error(JSON.stringify(opened));
    const message = await send(ws.people.a!.token, opened.data.openDirectThread.id, 'pin me');
    expect((await t.exec(Pin, { messageId: message.id }, { token: ws.people.b!.token })).data?.pinMessage).toMatchObject({ pinned: true });
    // Staff of the workspace do not reach a one-to-one thread at all.
    expect((await t.exec(Unpin, { messageId: message.id }, { token: ws.admin.token })).data?.unpinMessage).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('one stream: messages, edits, deletes, reactions and pins', () => {
  it('a subscriber that misses a reaction, a pin, an edit and a delete gets each exactly once on resuming by position, in order', async () => {
    const ws = await workspace(t, { ann: 'AGENT' });
    const ann = ws.people.ann!;
    const id = await room(ws.admin.token, ws.id, [ann.id]);
    const m1 = await send(ws.admin.token, id, 'one');
    const m2 = await send(ann.token, id, 'two');

    const client = t.ws({ token: ann.token });
    const first = collect(client, Events, { id, afterPosition: 0 });
    const seen = (await first.next(2)).map((r) => r.data!.conversationEvents);
    expect(seen.map((e) => [e.type, e.position])).toEqual([
      ['MESSAGE_ADDED', m1.position],
      ['MESSAGE_ADDED', m2.position],
    ]);
    // Live for a while: an edit reaches it.
    await t.exec(Edit, { id: m2.id, body: 'two, edited' }, { token: ann.token });
    seen.push(...(await first.next(3)).slice(2).map((r) => r.data!.conversationEvents));
    first.dispose();
    await client.dispose();
    const lastSeen = seen.at(-1)!.position!;

    // Away: a reaction, a pin, a message, an edit and a delete.
    await t.exec(React, { messageId: m1.id, emoji: '🎉' }, { token: ws.admin.token });
    await t.exec(Pin, { messageId: m1.id }, { token: ws.admin.token });
    const m3 = await send(ws.admin.token, id, 'three');
    await t.exec(Edit, { id: m3.id, body: 'three, edited' }, { token: ws.admin.token });
    await t.exec(Delete, { id: m2.id }, { token: ann.token });

    const again = collect(t.ws({ token: ann.token }), Events, { id, afterPosition: lastSeen });
    const missed = (await again.next(5)).map((r) => r.data!.conversationEvents);
    expect(missed.map((e) => e.type)).toEqual(['REACTION_ADDED', 'MESSAGE_PINNED', 'MESSAGE_ADDED', 'MESSAGE_EDITED', 'MESSAGE_DELETED']);
    expect(missed.map((e) => e.position)).toEqual([1, 2, 3, 4, 5].map((i) => lastSeen + i));
    expect(missed[0]).toMatchObject({ userId: ws.admin.id, emoji: '🎉', message: { id: m1.id, reactions: [{ emoji: '🎉', count: 1 }] } });
    expect(missed[1]).toMatchObject({ userId: ws.admin.id, message: { id: m1.id, pinned: true } });
    // Replayed changes show the message as it is now: the deleted one's body stays withheld.
    expect(missed[4]).toMatchObject({ message: { id: m2.id, deleted: true, body: '' } });
    // Then live, still exactly once.
    await t.exec(Unpin, { messageId: m1.id }, { token: ws.admin.token });
    const live = (await again.next(6)).slice(5).map((r) => r.data!.conversationEvents);
    expect(live).toMatchObject([{ type: 'MESSAGE_UNPINNED', position: lastSeen + 6 }]);
    await new Promise((r) => setTimeout(r, 200));
    expect(again.results).toHaveLength(6);

    // An older client resuming with a message seq gets the messages after it, as before: changes live only.
    const bySeq = collect(t.ws({ token: ann.token }), Events, { id, after: m2.seq });
    const fromSeq = (await bySeq.next(1)).map((r) => r.data!.conversationEvents);
    expect(fromSeq).toMatchObject([{ type: 'MESSAGE_ADDED', message: { id: m3.id, body: 'three, edited' } }]);
    await t.exec(React, { messageId: m3.id, emoji: '👀' }, { token: ws.admin.token });
    const [, reacted] = await bySeq.next(2);
    expect(reacted!.data!.conversationEvents).toMatchObject({ type: 'REACTION_ADDED', position: lastSeen + 7, emoji: '👀' });
    await new Promise((r) => setTimeout(r, 200));
    expect(bySeq.results).toHaveLength(2);
  });

  it('shows nothing of another workspace: its messages answer NOT_FOUND to reactions, pins and the stream', async () => {
    const mine = await workspace(t);
    const theirs = await workspace(t);
    const id = await room(theirs.admin.token, theirs.id, []);
    const message = await send(theirs.admin.token, id, 'private');
    const outsider = await person(t, 'outsider');
    for (const token of [mine.admin.token, outsider.token]) {
      expect((await t.exec(React, { messageId: message.id, emoji: '👍' }, { token })).data?.addReaction).toMatchObject({ code: 'NOT_FOUND' });
      expect((await t.exec(Pin, { messageId: message.id }, { token })).data?.pinMessage).toMatchObject({ code: 'NOT_FOUND' });
      const sub = collect(t.ws({ token }), Events, { id, afterPosition: 0 });
      await sub.completed;
      expect(JSON.stringify(sub.errors.length ? sub.errors : sub.results)).toContain('NOT_FOUND');
    }
    const untouched = await state(theirs.admin.token, id);
    expect(untouched.messages.edges[0]!.node).toMatchObject({ reactions: [], pinned: false });
  });
});
