/**
 * Mentions and the notification feed over real HTTP and graphql-ws: @username parsed on send and
 * edit with offsets, @here for staff in support rooms, replies, tickets assigned, missed calls;
 * nobody notified of a conversation they cannot read (nor of another workspace); read state and
 * unread counts; the feed's subscription resumed by cursor across a disconnect, exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, until, type TestApp } from './helpers/app.js';
import { person, workspace, type Person } from './helpers/fixtures.js';
import { apiKey, lineManager, openTicket, product } from './helpers/support.js';

const CreateRoom = graphql(`
  mutation NtCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
    }
  }
`);

const SetUsername = graphql(`
  mutation NtSetUsername($username: String!) {
    setUsername(username: $username) {
      __typename
    }
  }
`);

const Send = graphql(`
  mutation NtSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        body
        mentions {
          start
          length
          userId
          username
          here
        }
      }
      ... on Error {
        code
      }
    }
  }
`);

const Edit = graphql(`
  mutation NtEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
      ... on Message {
        mentions {
          start
          userId
        }
      }
      ... on Error {
        code
      }
    }
  }
`);

const Feed = graphql(`
  query NtFeed($unreadOnly: Boolean, $before: Int, $first: Int) {
    notifications(unreadOnly: $unreadOnly, before: $before, first: $first) {
      unreadCount
      hasMore
      nodes {
        id
        seq
        kind
        workspaceId
        conversationId
        messageId
        callId
        actorId
        excerpt
        read
      }
    }
  }
`);

const MarkRead = graphql(`
  mutation NtMarkRead($ids: [ID!], $upToSeq: Int) {
    markNotificationsRead(ids: $ids, upToSeq: $upToSeq) {
      __typename
      ... on NotificationsReadResult {
        marked
        unreadCount
      }
      ... on Error {
        code
      }
    }
  }
`);

const FeedEvents = graphql(`
  subscription NtFeedEvents($after: Int) {
    notificationEvents(after: $after) {
      type
      seq
      unreadCount
      notification {
        seq
        kind
        messageId
        excerpt
      }
    }
  }
`);

const StartCall = graphql(`
  mutation NtStartCall($input: StartCallInput!) {
    startCall(input: $input) {
      __typename
      ... on Call {
        id
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation NtOpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
      }
    }
  }
`);

const OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=sendrecv', ''].join('\r\n');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ CALL_RING_TIMEOUT_MS: '500' });
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
async function named(p: Person, tag: string): Promise<string> {
  const name = `${tag}_${Date.now().toString(36)}${++n}`;
  const res = await t.exec(SetUsername, { username: name }, { token: p.token });
  expect(res.data?.setUsername.__typename).toBe('User');
  return name;
}

async function room(token: string, workspaceId: string, memberIds: string[], roomType?: 'SUPPORT' | 'GROUP'): Promise<string> {
  const res = await t.exec(CreateRoom, { input: { workspaceId, name: 'Room', memberIds, roomType } }, { token });
  if (res.data?.createRoom.__typename !== 'Room') throw new Error(JSON.stringify(res));
  return res.data.createRoom.id;
}

async function send(token: string, conversationId: string, body: string, replyToId?: string) {
  const res = await t.exec(Send, { input: { conversationId, body, replyToId } }, { token });
  if (res.data?.sendMessage.__typename !== 'Message') throw new Error(JSON.stringify(res));
  return res.data.sendMessage;
}

async function feed(p: Person, unreadOnly = false) {
  const res = await t.exec(Feed, { unreadOnly }, { token: p.token });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.notifications;
}

describe('mentions', () => {
  it('stores @mentions with offsets and notifies who can read; a non-member, another workspace’s user and an unknown name get nothing', async () => {
    const ws = await workspace(t, { ann: 'CLIENT', bob: 'CLIENT' });
    const other = await workspace(t, { zed: 'CLIENT' });
    const [ann, bob, zed] = [ws.people.ann!, ws.people.bob!, other.people.zed!];
    const annName = await named(ann, 'ann');
    const bobName = await named(bob, 'bob');
    const zedName = await named(zed, 'zed');
    // A group room with ann; bob is in the workspace but not in the room (clients do not read it by role).
    const id = await room(ws.admin.token, ws.id, [ann.id]);
    const body = `Hi @${annName.toUpperCase()}, @${bobName} and @${zedName} and @nobody_here_x, mail me at x@${annName}.com.`;
    const message = await send(ws.admin.token, id, body);
    expect(message.mentions).toEqual([{ start: 3, length: annName.length + 1, userId: ann.id, username: annName, here: false }]);
    expect(body.slice(3, 3 + annName.length + 1).toLowerCase()).toBe(`@${annName}`);

    const annFeed = await feed(ann);
    expect(annFeed.unreadCount).toBe(1);
    expect(annFeed.nodes).toEqual([
      {
        id: expect.any(String),
        seq: 1,
        kind: 'MENTION',
        workspaceId: ws.id,
        conversationId: id,
        messageId: message.id,
        callId: null,
        actorId: ws.admin.id,
        excerpt: body.slice(0, 140),
        read: false,
      },
    ]);
    for (const p of [bob, zed, ws.admin]) expect(await feed(p)).toEqual({ unreadCount: 0, hasMore: false, nodes: [] });
    // Nothing was stored about zed anywhere: the message says nothing of another workspace.
    expect(JSON.stringify(message)).not.toContain(zed.id);
  });

  it('an edit that adds a mention notifies the newly mentioned once; replies notify the replied-to author', async () => {
    const ws = await workspace(t, { ann: 'AGENT', bob: 'AGENT' });
    const [ann, bob] = [ws.people.ann!, ws.people.bob!];
    const annName = await named(ann, 'ann');
    const bobName = await named(bob, 'bob');
    const id = await room(ws.admin.token, ws.id, [ann.id, bob.id]);
    const first = await send(ann.token, id, 'a question');
    const reply = await send(bob.token, id, `an answer @${annName}`, first.id);
    // Mentioned and replied to: one notification, a mention.
    expect((await feed(ann)).nodes.map((x) => [x.kind, x.messageId])).toEqual([['MENTION', reply.id]]);
    const plainReply = await send(ws.admin.token, id, 'another answer', first.id);
    expect((await feed(ann)).nodes.map((x) => [x.kind, x.messageId])).toEqual([
      ['REPLY', plainReply.id],
      ['MENTION', reply.id],
    ]);

    const note = await send(ann.token, id, 'no one yet');
    const edited = await t.exec(Edit, { id: note.id, body: `now @${bobName}` }, { token: ann.token });
    expect(edited.data?.editMessage).toEqual({ __typename: 'Message', mentions: [{ start: 4, userId: bob.id }] });
    await t.exec(Edit, { id: note.id, body: `still @${bobName}!` }, { token: ann.token });
    expect((await feed(bob)).nodes.map((x) => [x.kind, x.messageId])).toEqual([['MENTION', note.id]]);
  });

  it('@here from staff in a support room notifies its members; from a client it is plain text', async () => {
    const ws = await workspace(t, { agent: 'AGENT', c1: 'CLIENT', c2: 'CLIENT' });
    const { agent, c1, c2 } = ws.people as Record<string, Person>;
    const id = await room(ws.admin.token, ws.id, [agent!.id, c1!.id, c2!.id], 'SUPPORT');
    const fromClient = await send(c1!.token, id, '@here anyone?');
    expect(fromClient.mentions).toEqual([]);
    const fromAgent = await send(agent!.token, id, '@here we are back');
    expect(fromAgent.mentions).toEqual([{ start: 0, length: 5, userId: null, username: null, here: true }]);
    for (const p of [c1!, c2!, ws.admin]) expect((await feed(p)).nodes.map((x) => [x.kind, x.messageId])).toEqual([['MENTION', fromAgent.id]]);
    expect((await feed(agent!)).nodes).toEqual([]);
  });
});

describe('the notification feed', () => {
  it('resumes by cursor across a disconnect over graphql-ws, exactly once; marks read with counts on every device', async () => {
    const ws = await workspace(t, { ann: 'AGENT' });
    const ann = ws.people.ann!;
    const annName = await named(ann, 'ann');
    const id = await room(ws.admin.token, ws.id, [ann.id]);
    const m1 = await send(ws.admin.token, id, `one @${annName}`);

    const client = t.ws({ token: ann.token });
    const first = collect(client, FeedEvents, { after: 0 });
    const [replayed] = await first.next(1);
    expect(replayed!.data!.notificationEvents).toEqual({
      type: 'NOTIFICATION_ADDED',
      seq: 1,
      unreadCount: 1,
      notification: { seq: 1, kind: 'MENTION', messageId: m1.id, excerpt: `one @${annName}` },
    });
    const m2 = await send(ws.admin.token, id, `two @${annName}`);
    const [, live] = await first.next(2);
    expect(live!.data!.notificationEvents).toMatchObject({ seq: 2, unreadCount: 2, notification: { messageId: m2.id } });
    first.dispose();
    await client.dispose();

    // Away: two more.
    const m3 = await send(ws.admin.token, id, `three @${annName}`);
    const m4 = await send(ws.admin.token, id, `four @${annName}`);
    const second = collect(t.ws({ token: ann.token }), FeedEvents, { after: 2 });
    const missed = (await second.next(2)).map((r) => r.data!.notificationEvents);
    expect(missed.map((e) => [e.type, e.seq, e.notification?.messageId])).toEqual([
      ['NOTIFICATION_ADDED', 3, m3.id],
      ['NOTIFICATION_ADDED', 4, m4.id],
    ]);
    const m5 = await send(ws.admin.token, id, `five @${annName}`);
    const [, , more] = await second.next(3);
    expect(more!.data!.notificationEvents).toMatchObject({ seq: 5, unreadCount: 5, notification: { messageId: m5.id } });

    // Reading: up to a seq, then by id; each device hears it; the counts follow.
    const upTo = await t.exec(MarkRead, { upToSeq: 3 }, { token: ann.token });
    expect(upTo.data?.markNotificationsRead).toEqual({ __typename: 'NotificationsReadResult', marked: 3, unreadCount: 2 });
    const read = (await second.next(4))[3]!.data!.notificationEvents;
    expect(read).toMatchObject({ type: 'NOTIFICATIONS_READ', seq: 3, unreadCount: 2 });
    const unread = await feed(ann, true);
    expect(unread.nodes.map((x) => x.seq)).toEqual([5, 4]);
    const byId = await t.exec(MarkRead, { ids: [unread.nodes[0]!.id] }, { token: ann.token });
    expect(byId.data?.markNotificationsRead).toMatchObject({ marked: 1, unreadCount: 1 });
    // Someone else's notification id is ignored; a bad request is typed and changes nothing.
    const adminsOwn = await t.exec(MarkRead, { ids: [unread.nodes[1]!.id] }, { token: ws.admin.token });
    expect(adminsOwn.data?.markNotificationsRead).toMatchObject({ marked: 0 });
    const both = await t.exec(MarkRead, { ids: [unread.nodes[1]!.id], upToSeq: 9 }, { token: ann.token });
    expect(both.data?.markNotificationsRead).toMatchObject({ __typename: 'ValidationError' });
    expect((await feed(ann)).unreadCount).toBe(1);
    // Paging, newest first.
    const page = await t.exec(Feed, { first: 2, before: 5 }, { token: ann.token });
    expect(page.data!.notifications).toMatchObject({ hasMore: true, nodes: [{ seq: 4 }, { seq: 3 }] });
    await new Promise((r) => setTimeout(r, 200));
    expect(second.results).toHaveLength(5);
  });

  it('tells a line manager of a ticket assigned to them, and a callee of a call they missed', async () => {
    const ws = await workspace(t, { agent: 'AGENT', customer: 'CLIENT' });
    const { agent, customer } = ws.people as Record<string, Person>;
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: agent!.id, capacity: 5 });
    const { id: productId } = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, customer!.token, { workspaceId: ws.id, productId, message: 'help' } as never);
    await until(async () => (await feed(agent!)).nodes.length > 0);
    expect((await feed(agent!)).nodes).toMatchObject([{ kind: 'TICKET_ASSIGNED', conversationId: ticket.id, workspaceId: ws.id }]);

    const thread = await t.exec(OpenDirect, { workspaceId: ws.id, userId: customer!.id }, { token: agent!.token });
    if (thread.data?.openDirectThread.__typename !== 'Thread') throw new Error(JSON.stringify(thread));
    const call = await t.exec(
      StartCall,
      { input: { conversationId: thread.data.openDirectThread.id, media: 'VIDEO', sdp: OFFER, deviceId: 'agent-phone' } },
      { token: agent!.token },
    );
    if (call.data?.startCall.__typename !== 'Call') throw new Error(JSON.stringify(call));
    await until(async () => (await feed(customer!)).nodes.some((x) => x.kind === 'MISSED_CALL'));
    expect((await feed(customer!)).nodes.find((x) => x.kind === 'MISSED_CALL')).toMatchObject({
      callId: call.data.startCall.id,
      actorId: agent!.id,
      excerpt: 'Missed video call',
    });
    // The caller is not told of their own call.
    expect((await feed(agent!)).nodes.some((x) => x.kind === 'MISSED_CALL')).toBe(false);
  });

  it('is for people: an API key is refused, and so is anyone not signed in', async () => {
    const ws = await workspace(t);
    const key = await apiKey(t, ws.id, ws.admin.token);
    const refused = await t.exec(Feed, {}, { token: key });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const someone = await person(t, 'someone');
    expect((await t.exec(Feed, {}, { token: someone.token })).data?.notifications).toEqual({ unreadCount: 0, hasMore: false, nodes: [] });
    const anonymous = await t.exec(Feed, {});
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
