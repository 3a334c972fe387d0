/**
 * The message pipeline end to end over real HTTP and graphql-ws: seq without holes, idempotent
 * sends, history pages, resume by cursor with no gap or duplicate, and who may read what.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, withoutRequestId, type TestApp } from './helpers/app.js';
import { person, workspace } from './helpers/fixtures.js';

const CreateRoom = graphql(`
  mutation ConvCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
        roomType
        members {
          user {
            id
          }
          role
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Send = graphql(`
  mutation ConvSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        body
        author {
          id
        }
      }
      ... on Error {
        code
        message
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
    }
  }
`);

const History = graphql(`
  query ConvHistory($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    conversation(id: $id) {
      id
      lastSeq
      viewerUnreadCount
      messages(first: $first, after: $after, last: $last, before: $before) {
        edges {
          cursor
          node {
            seq
            body
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          endCursor
          startCursor
        }
      }
    }
  }
`);

const Events = graphql(`
  subscription ConvEvents($id: ID!, $after: Int) {
    conversationEvents(conversationId: $id, after: $after) {
      type
      seq
      userId
      message {
        id
        seq
        body
      }
    }
  }
`);

const Edit = graphql(`
  mutation ConvEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
      ... on Message {
        body
        editedAt
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const RemoveMember = graphql(`
  mutation ConvRemoveMember($conversationId: ID!, $userId: ID!) {
    removeConversationMember(conversationId: $conversationId, userId: $userId) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation ConvOpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
        direct
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const IssueKey = graphql(`
  mutation ConvIssueKey($workspaceId: ID!) {
    issueApiKey(input: { workspaceId: $workspaceId, name: "integration" }) {
      __typename
      ... on IssuedApiKey {
        secret
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

async function room(token: string, workspaceId: string, memberIds: string[] = []): Promise<string> {
  const res = await t.exec(CreateRoom, { input: { workspaceId, name: 'Room', memberIds } }, { token });
  const r = res.data!.createRoom;
  if (r.__typename !== 'Room') throw new Error(JSON.stringify(res));
  return r.id;
}

async function send(token: string, conversationId: string, body: string, clientMessageId?: string) {
  const res = await t.exec(Send, { input: { conversationId, body, clientMessageId } }, { token });
  return res.data!.sendMessage;
}

describe('sending', () => {
  it('numbers messages 1, 2, 3 … with no holes, even when sent concurrently', async () => {
    const ws = await workspace(t, { bob: 'AGENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.bob!.id]);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => send(i % 2 ? ws.admin.token : ws.people.bob!.token, id, `m${i}`)),
    );
    const seqs = results.map((r) => (r.__typename === 'Message' ? r.seq : -1)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('yields one message for the same clientMessageId sent 5 times concurrently', async () => {
    const ws = await workspace(t);
    const id = await room(ws.admin.token, ws.id);
    const results = await Promise.all(Array.from({ length: 5 }, () => send(ws.admin.token, id, 'once', 'client-key-1')));
    const ids = new Set(results.map((r) => (r.__typename === 'Message' ? r.id : 'error')));
    expect(ids.size).toBe(1);
    expect([...ids][0]).not.toBe('error');
    expect(await t.app.services.db.message.count({ where: { conversationId: id } })).toBe(1);
    // The next message still gets seq 2: a losing insert left no hole.
    const next = await send(ws.admin.token, id, 'next');
    expect(next).toMatchObject({ __typename: 'Message', seq: 2 });
  });

  it('refuses bad input with a clear error and stores nothing', async () => {
    const ws = await workspace(t, { bob: 'AGENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.bob!.id]);
    const empty = await send(ws.admin.token, id, '   ');
    expect(empty).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const huge = await send(ws.admin.token, id, 'x'.repeat(10_001));
    expect(huge).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const unknown = await send(ws.admin.token, '8a0c0d3e-1111-4222-8333-944455556666', 'hi');
    expect(unknown).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(await t.app.services.db.message.count({ where: { conversationId: id } })).toBe(0);

    const mine = await send(ws.people.bob!.token, id, 'bob wrote this');
    if (mine.__typename !== 'Message') throw new Error('send failed');
    // An admin may edit anyone's message; another agent may not.
    const other = await workspace(t, { carol: 'AGENT' });
    void other;
    const carol = (await workspace(t, { carol: 'AGENT' })).people.carol!;
    const foreign = await t.exec(Edit, { id: mine.id, body: 'hacked' }, { token: carol.token });
    expect(foreign.data!.editMessage).toMatchObject({ __typename: 'NotFoundError' });
    const stored = await t.app.services.db.message.findUniqueOrThrow({ where: { id: mine.id } });
    expect(stored.body).toBe('bob wrote this');
    expect(stored.editedAt).toBeNull();

    const capped = await t.exec(History, { id, first: 1_000_000 }, { token: ws.admin.token });
    expect(capped.errors).toBeUndefined();
    expect(capped.data!.conversation.messages.edges.length).toBeLessThanOrEqual(100);
  });

  it('lets an API key write as a member or staff it names with asUserId, and as nobody else', async () => {
    const ws = await workspace(t, { bob: 'AGENT', cid: 'CLIENT', eve: 'CLIENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.cid!.id]);
    const issued = await t.exec(IssueKey, { workspaceId: ws.id }, { token: ws.admin.token });
    if (issued.data?.issueApiKey.__typename !== 'IssuedApiKey') throw new Error(JSON.stringify(issued));
    const key = issued.data.issueApiKey.secret;
    const as = (asUserId: string | undefined, token = key) => t.exec(Send, { input: { conversationId: id, body: 'hello', asUserId } }, { token });

    expect((await as(ws.people.cid!.id)).data!.sendMessage).toMatchObject({ __typename: 'Message', author: { id: ws.people.cid!.id } });
    // Staff reach the room by role and join it by answering.
    expect((await as(ws.people.bob!.id)).data!.sendMessage).toMatchObject({ __typename: 'Message', author: { id: ws.people.bob!.id } });
    expect(await t.app.services.db.conversationMember.count({ where: { conversationId: id, userId: ws.people.bob!.id } })).toBe(1);
    // A client who is not in the room, someone of another workspace, no one named, or a user naming someone else: refused.
    expect((await as(ws.people.eve!.id)).data!.sendMessage).toMatchObject({ __typename: 'ForbiddenError' });
    const stranger = (await workspace(t)).admin;
    expect((await as(stranger.id)).data!.sendMessage).toMatchObject({ __typename: 'NotFoundError' });
    expect((await as(undefined)).data!.sendMessage).toMatchObject({ __typename: 'ForbiddenError' });
    expect((await as(ws.people.cid!.id, ws.people.bob!.token)).data!.sendMessage).toMatchObject({ __typename: 'ForbiddenError' });
    expect(await t.app.services.db.message.count({ where: { conversationId: id } })).toBe(2);
  });

  it('lets only the author or an admin edit, and keeps the edit time', async () => {
    const ws = await workspace(t, { bob: 'AGENT', dan: 'AGENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.bob!.id, ws.people.dan!.id]);
    const sent = await send(ws.people.bob!.token, id, 'original');
    if (sent.__typename !== 'Message') throw new Error('send failed');
    const byDan = await t.exec(Edit, { id: sent.id, body: 'changed' }, { token: ws.people.dan!.token });
    expect(byDan.data!.editMessage).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const byBob = await t.exec(Edit, { id: sent.id, body: 'changed' }, { token: ws.people.bob!.token });
    expect(byBob.data!.editMessage).toMatchObject({ __typename: 'Message', body: 'changed' });
    const byAdmin = await t.exec(Edit, { id: sent.id, body: 'moderated' }, { token: ws.admin.token });
    expect(byAdmin.data!.editMessage).toMatchObject({ __typename: 'Message', body: 'moderated' });
  });
});

describe('history', () => {
  it('pages newest first with last/before and forward with first/after', async () => {
    const ws = await workspace(t);
    const id = await room(ws.admin.token, ws.id);
    for (let i = 1; i <= 12; i++) await send(ws.admin.token, id, `m${i}`);
    const newest = await t.exec(History, { id, last: 5 }, { token: ws.admin.token });
    const page = newest.data!.conversation.messages;
    expect(page.edges.map((e) => e.node.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(page.pageInfo.hasPreviousPage).toBe(true);
    const older = await t.exec(History, { id, last: 5, before: page.pageInfo.startCursor }, { token: ws.admin.token });
    expect(older.data!.conversation.messages.edges.map((e) => e.node.seq)).toEqual([3, 4, 5, 6, 7]);
    const forward = await t.exec(History, { id, first: 3, after: older.data!.conversation.messages.pageInfo.endCursor }, { token: ws.admin.token });
    expect(forward.data!.conversation.messages.edges.map((e) => e.node.seq)).toEqual([8, 9, 10]);
  });
});

describe('live delivery and resume', () => {
  it('resumes after a disconnect with every message exactly once while sends continue', async () => {
    const ws = await workspace(t, { bob: 'AGENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.bob!.id]);
    const total = 120;
    let sent = 0;
    const sender = (async () => {
      for (; sent < total; sent++) {
        await send(ws.admin.token, id, `m${sent + 1}`);
        if (sent % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const seen: number[] = [];
    // Three sessions: each reads a while, drops, and resumes after the last seq it saw.
    let after = 0;
    for (let session = 0; session < 3; session++) {
      const client = t.ws({ token: ws.people.bob!.token });
      const sub = collect(client, Events, { id, after });
      const want = session < 2 ? 30 : total - seen.length;
      const got = await sub.next(want, 20_000);
      sub.dispose();
      await client.dispose();
      for (const r of got.slice(0, want)) {
        const e = r.data!.conversationEvents;
        if (e.type === 'MESSAGE_ADDED') seen.push(e.seq);
      }
      after = seen[seen.length - 1] ?? 0;
    }
    await sender;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('stops a removed member’s subscription with a clear error within 2 s', async () => {
    const ws = await workspace(t, { bob: 'CLIENT' });
    const id = await room(ws.admin.token, ws.id, [ws.people.bob!.id]);
    const client = t.ws({ token: ws.people.bob!.token });
    await send(ws.admin.token, id, 'hello');
    // after: 0 replays 'hello', which also tells us the subscription is live.
    const sub = collect(client, Events, { id, after: 0 });
    await sub.next(1);
    const started = Date.now();
    const removed = await t.exec(RemoveMember, { conversationId: id, userId: ws.people.bob!.id }, { token: ws.admin.token });
    expect(removed.data!.removeConversationMember.__typename).toBe('MutationRemoveConversationMemberSuccess');
    await Promise.race([sub.completed, new Promise((_, reject) => setTimeout(() => reject(new Error('still subscribed')), 2000))]);
    expect(Date.now() - started).toBeLessThan(2000);
    const last = sub.results[sub.results.length - 1]!;
    expect(last.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    await send(ws.admin.token, id, 'after removal');
    await new Promise((r) => setTimeout(r, 200));
    expect(sub.results.filter((r) => r.data?.conversationEvents?.message?.body === 'after removal')).toHaveLength(0);
  });

  it('keeps one-to-one threads private, even from admins, with NOT_FOUND', async () => {
    const ws = await workspace(t, { bob: 'AGENT', carol: 'CLIENT' });
    const opened = await t.exec(OpenDirect, { workspaceId: ws.id, userId: ws.people.carol!.id }, { token: ws.people.bob!.token });
    const thread = opened.data!.openDirectThread;
    if (thread.__typename !== 'Thread') throw new Error(JSON.stringify(opened));
    expect(thread.direct).toBe(true);
    const again = await t.exec(OpenDirect, { workspaceId: ws.id, userId: ws.people.bob!.id }, { token: ws.people.carol!.token });
    expect(again.data!.openDirectThread).toMatchObject({ id: thread.id });
    await send(ws.people.carol!.token, thread.id, 'private');
    const byAdmin = await t.exec(History, { id: thread.id, last: 10 }, { token: ws.admin.token });
    expect(byAdmin.errors![0]).toMatchObject({ message: 'Conversation not found.', extensions: { code: 'NOT_FOUND' } });
    const stranger = await person(t, 'stranger');
    const byStranger = await t.exec(History, { id: thread.id, last: 10 }, { token: stranger.token });
    // Identical but for the id of the request each was answered in (which tells nothing).
    expect(withoutRequestId(byStranger.errors)).toEqual(withoutRequestId(byAdmin.errors));
    const client = t.ws({ token: ws.admin.token });
    const sub = collect(client, Events, { id: thread.id });
    await sub.completed;
    expect(sub.results[0]?.errors?.[0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });
});
