/**
 * Call signalling end to end over real graphql-ws clients: offer, answer, ICE and end between two
 * users; several devices (first answer wins, the other is told); disconnects; ring timeouts that
 * hold across a restart; BUSY; who may see and act on a call; bad input; history.
 */
import type { ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import type { CallEventsSubscription } from './gql/graphql.js';
import { collect, startTestApp, wsOnce, type TestApp } from './helpers/app.js';
import { usingPostgres, usingRedis } from './helpers/database.js';
import { workspace, type Person } from './helpers/fixtures.js';

const OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=sendrecv',
  'a=rtpmap:111 opus/48000/2',
  '',
].join('\r\n');
const ANSWER = OFFER.replace('4611731400430051336', '8937405632001739263').replace('a=sendrecv', 'a=recvonly');
const CANDIDATE = 'candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr 10.0.0.2 rport 46154 generation 0';

const CallFields = graphql(`
  fragment CallFields on Call {
    id
    conversationId
    media
    status
    endReason
    version
    caller {
      userId
    }
    callees {
      userId
      declinedAt
    }
    answeredBy {
      userId
    }
    endedById
    startedAt
    ringUntil
    answeredAt
    endedAt
    durationSeconds
    messageId
  }
`);
void CallFields;

const StartCall = graphql(`
  mutation CallsStart($input: StartCallInput!) {
    startCall(input: $input) {
      __typename
      ...CallFields
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

const AnswerCall = graphql(`
  mutation CallsAnswer($input: AnswerCallInput!) {
    answerCall(input: $input) {
      __typename
      ...CallFields
      ... on Error {
        code
        message
      }
    }
  }
`);

const RejectCall = graphql(`
  mutation CallsReject($callId: ID!) {
    rejectCall(callId: $callId) {
      __typename
      ...CallFields
      ... on Error {
        code
        message
      }
    }
  }
`);

const EndCall = graphql(`
  mutation CallsEnd($callId: ID!, $failed: Boolean) {
    endCall(callId: $callId, failed: $failed) {
      __typename
      ...CallFields
      ... on Error {
        code
        message
      }
    }
  }
`);

const SendIce = graphql(`
  mutation CallsIce($callId: ID!, $candidate: IceCandidateInput!) {
    sendIceCandidate(callId: $callId, candidate: $candidate) {
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

const CallEvents = graphql(`
  subscription CallEvents($deviceId: String, $callId: ID) {
    callEvents(deviceId: $deviceId, callId: $callId) {
      type
      sdp
      reason
      candidate {
        candidate
        sdpMid
        sdpMLineIndex
      }
      call {
        ...CallFields
      }
    }
  }
`);

const GetCall = graphql(`
  query CallsGet($id: ID!) {
    call(id: $id) {
      ...CallFields
    }
  }
`);

const ListCalls = graphql(`
  query CallsList($conversationId: ID, $first: Int, $after: String) {
    calls(conversationId: $conversationId, first: $first, after: $after) {
      nodes {
        id
        status
        conversationId
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const OpenDirect = graphql(`
  mutation CallsOpenDirect($workspaceId: ID!, $userId: ID!) {
    openDirectThread(workspaceId: $workspaceId, userId: $userId) {
      __typename
      ... on Thread {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const CreateRoom = graphql(`
  mutation CallsCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const Messages = graphql(`
  query CallsMessages($id: ID!) {
    conversation(id: $id) {
      messages(last: 10) {
        nodes {
          id
          kind
          body
          author {
            id
          }
        }
      }
    }
  }
`);

type CallEvent = CallEventsSubscription['callEvents'];
type Sub = ReturnType<typeof collect<CallEventsSubscription, { deviceId?: string | null; callId?: string | null }>>;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

/** Waits for the first event matching `match` (from the start of the subscription). */
async function waitEvent(sub: Sub, match: (e: CallEvent) => boolean, ms = 5000): Promise<CallEvent> {
  const deadline = Date.now() + ms;
  for (let seen = 0; ; ) {
    for (; seen < sub.results.length; seen++) {
      const result = sub.results[seen]!;
      if (result.errors) throw new Error(`subscription error: ${JSON.stringify(result.errors)}`);
      const event = result.data?.callEvents;
      if (event && match(event)) return event;
    }
    if (sub.errors.length) throw new Error(`subscription failed: ${JSON.stringify(sub.errors)}`);
    await sub.next(seen + 1, Math.max(1, deadline - Date.now()));
  }
}

function events(sub: Sub, callId?: string): CallEvent[] {
  return sub.results.map((r) => r.data?.callEvents).filter((e): e is CallEvent => !!e && (!callId || e.call.id === callId));
}

const is = (type: CallEvent['type'], callId?: string) => (e: CallEvent) => e.type === type && (!callId || e.call.id === callId);

function listen(app: TestApp, person: Person, variables: { deviceId?: string; callId?: string } = {}): { client: Client; sub: Sub } {
  const client = app.ws({ token: person.token });
  return { client, sub: collect(client, CallEvents, variables) };
}

function data<T extends { __typename: string }>(result: ExecutionResult<Record<string, T>>, field: string): T {
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data![field]!;
}

async function directThread(app: TestApp, a: Person, b: Person, workspaceId: string): Promise<string> {
  const res = await app.exec(OpenDirect, { workspaceId, userId: b.id }, { token: a.token });
  const thread = res.data?.openDirectThread;
  if (thread?.__typename !== 'Thread') throw new Error(JSON.stringify(res));
  return thread.id;
}

/** Alice and Bob in a workspace with a one-to-one thread, plus Carol and Dave (members, not in the thread). */
async function setup(app: TestApp = t) {
  const ws = await workspace(app, { alice: 'AGENT', bob: 'CLIENT', carol: 'AGENT', dave: 'AGENT' });
  const { alice, bob, carol, dave } = ws.people as Record<'alice' | 'bob' | 'carol' | 'dave', Person>;
  const thread = await directThread(app, alice, bob, ws.id);
  return { ws, alice, bob, carol, dave, thread };
}

async function start(client: Client, conversationId: string, extra: { media?: 'AUDIO' | 'VIDEO'; calleeId?: string } = {}) {
  const call = data(await wsOnce(client, StartCall, { input: { conversationId, sdp: OFFER, ...extra } }), 'startCall');
  if (call.__typename !== 'Call') throw new Error(`startCall: ${JSON.stringify(call)}`);
  return call;
}

async function systemMessages(app: TestApp, token: string, conversationId: string): Promise<string[]> {
  const res = await app.exec(Messages, { id: conversationId }, { token });
  return (res.data?.conversation?.messages.nodes ?? []).filter((m) => m.kind === 'SYSTEM').map((m) => m.body);
}

describe('signalling', () => {
  it('two graphql-ws clients complete a full offer, answer, ICE, end exchange', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice);
    const b = listen(t, bob);

    const call = await start(a.client, thread, { media: 'VIDEO' });
    expect(call).toMatchObject({ status: 'RINGING', media: 'VIDEO', caller: { userId: alice.id }, callees: [{ userId: bob.id }] });
    await waitEvent(a.sub, is('RINGING', call.id));

    const incoming = await waitEvent(b.sub, is('INCOMING', call.id));
    expect(incoming.sdp).toBe(OFFER);
    expect(incoming.call).toMatchObject({ status: 'RINGING', media: 'VIDEO', caller: { userId: alice.id } });

    // Trickle ICE from the caller while it rings reaches the callee.
    const early = data(await wsOnce(a.client, SendIce, { callId: call.id, candidate: { candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0 } }), 'sendIceCandidate');
    expect(early.__typename).toBe('Call');
    expect((await waitEvent(b.sub, is('ICE_CANDIDATE', call.id))).candidate).toEqual({ candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0 });

    const answered = data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall');
    expect(answered).toMatchObject({ __typename: 'Call', status: 'ACTIVE', answeredBy: { userId: bob.id } });
    const accepted = await waitEvent(a.sub, is('ACCEPTED', call.id));
    expect(accepted.sdp).toBe(ANSWER);
    expect(accepted.call.status).toBe('ACTIVE');

    await wsOnce(b.client, SendIce, { callId: call.id, candidate: { candidate: `${CANDIDATE} ufrag b`, sdpMid: '0', sdpMLineIndex: 0 } });
    expect((await waitEvent(a.sub, is('ICE_CANDIDATE', call.id))).candidate?.candidate).toBe(`${CANDIDATE} ufrag b`);
    await wsOnce(a.client, SendIce, { callId: call.id, candidate: { candidate: '', sdpMid: '0', sdpMLineIndex: 0 } });
    await waitEvent(b.sub, (e) => e.type === 'ICE_CANDIDATE' && e.candidate?.candidate === '');

    const ended = data(await wsOnce(a.client, EndCall, { callId: call.id }), 'endCall');
    expect(ended).toMatchObject({ __typename: 'Call', status: 'ENDED', endReason: 'HUNG_UP', endedById: alice.id });
    for (const sub of [a.sub, b.sub]) {
      const end = await waitEvent(sub, is('ENDED', call.id));
      expect(end).toMatchObject({ reason: 'HUNG_UP', call: { status: 'ENDED' } });
      expect(end.call.durationSeconds).toBeGreaterThanOrEqual(0);
    }
    // Each side heard its events once, in order.
    expect(events(a.sub, call.id).map((e) => e.type)).toEqual(['RINGING', 'ACCEPTED', 'ICE_CANDIDATE', 'ENDED']);
    expect(events(b.sub, call.id).map((e) => e.type)).toEqual(['INCOMING', 'ICE_CANDIDATE', 'ICE_CANDIDATE', 'ENDED']);

    // Signalling payloads are not kept after the call.
    const row = await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } });
    expect(row).toMatchObject({ offerSdp: null, answerSdp: null, status: 'ENDED' });
    expect(row.answeredAt).not.toBeNull();
    // The conversation tells the story.
    expect(await systemMessages(t, bob.token, thread)).toEqual([expect.stringMatching(/^Video call, \d+ s$/)]);
    expect(row.messageId).not.toBeNull();
  });

  it('relays to the device named by deviceId when mutations go over HTTP', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice, { deviceId: 'alice-phone' });
    const b = listen(t, bob, { deviceId: 'bob-laptop' });
    const started = await t.exec(StartCall, { input: { conversationId: thread, sdp: OFFER, deviceId: 'alice-phone' } }, { token: alice.token });
    const call = data(started, 'startCall');
    if (call.__typename !== 'Call') throw new Error(JSON.stringify(call));
    await waitEvent(a.sub, is('RINGING', call.id));
    await waitEvent(b.sub, is('INCOMING', call.id));
    await t.exec(AnswerCall, { input: { callId: call.id, sdp: ANSWER, deviceId: 'bob-laptop' } }, { token: bob.token });
    expect((await waitEvent(a.sub, is('ACCEPTED', call.id))).sdp).toBe(ANSWER);
    await t.exec(SendIce, { callId: call.id, candidate: { candidate: CANDIDATE } }, { token: alice.token });
    await waitEvent(b.sub, is('ICE_CANDIDATE', call.id));
    await t.exec(EndCall, { callId: call.id }, { token: bob.token });
    await waitEvent(a.sub, is('ENDED', call.id));
    await waitEvent(b.sub, is('ENDED', call.id));
    // The answering device was named, so it was not told that the call was answered elsewhere.
    expect(events(b.sub, call.id).map((e) => e.type)).toEqual(['INCOMING', 'ICE_CANDIDATE', 'ENDED']);
  });
});

describe('several devices', () => {
  it('rings every device; the first answer wins, exactly, and the other device is told it was answered elsewhere', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice);
    const phone = listen(t, bob);
    const laptop = listen(t, bob);
    const call = await start(a.client, thread);
    await waitEvent(phone.sub, is('INCOMING', call.id));
    await waitEvent(laptop.sub, is('INCOMING', call.id));

    // Both devices answer at once: the conditional update lets exactly one through.
    const [fromPhone, fromLaptop] = await Promise.all([
      wsOnce(phone.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }),
      wsOnce(laptop.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }),
    ]);
    const outcomes = [data(fromPhone, 'answerCall'), data(fromLaptop, 'answerCall')];
    expect(outcomes.map((o) => o.__typename).sort()).toEqual(['Call', 'ConflictError']);
    const loser = outcomes.find((o) => o.__typename === 'ConflictError') as { message: string };
    expect(loser.message).toMatch(/already answered on another of your devices/);
    const [winner, other] = outcomes[0]!.__typename === 'Call' ? [phone, laptop] : [laptop, phone];

    await waitEvent(other.sub, is('ANSWERED_ELSEWHERE', call.id));
    await waitEvent(a.sub, is('ACCEPTED', call.id));

    // The caller's candidates reach the device that answered, not the other one.
    await wsOnce(a.client, SendIce, { callId: call.id, candidate: { candidate: CANDIDATE } });
    await waitEvent(winner.sub, is('ICE_CANDIDATE', call.id));
    await wsOnce(a.client, EndCall, { callId: call.id });
    await waitEvent(other.sub, is('ENDED', call.id));
    await waitEvent(winner.sub, is('ENDED', call.id));
    expect(events(winner.sub, call.id).map((e) => e.type)).toEqual(['INCOMING', 'ICE_CANDIDATE', 'ENDED']);
    expect(events(other.sub, call.id).map((e) => e.type)).toEqual(['INCOMING', 'ANSWERED_ELSEWHERE', 'ENDED']);
    expect(events(a.sub, call.id).filter((e) => e.type === 'ACCEPTED')).toHaveLength(1);
  });

  it('rings a device that connects while the call rings, with the offer', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice);
    const call = await start(a.client, thread);
    const late = listen(t, bob);
    const incoming = await waitEvent(late.sub, is('INCOMING', call.id));
    expect(incoming.sdp).toBe(OFFER);
    await wsOnce(late.client, RejectCall, { callId: call.id });
    const end = await waitEvent(a.sub, is('ENDED', call.id));
    expect(end).toMatchObject({ reason: 'DECLINED', call: { status: 'REJECTED' } });
    expect(await systemMessages(t, alice.token, thread)).toEqual(['Declined audio call']);
  });

  it('in a group, rings every other member; one declining leaves the others ringing, the first answer takes it', async () => {
    const { ws, alice, bob, carol } = await setup();
    const room = data(await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Standup', memberIds: [alice.id, bob.id, carol.id] } }, { token: ws.admin.token }), 'createRoom');
    if (room.__typename !== 'Room') throw new Error(JSON.stringify(room));
    const a = listen(t, alice);
    const b = listen(t, bob);
    const c = listen(t, carol);
    const call = await start(a.client, room.id, { calleeId: undefined });
    // The admin created the room and is a member too: three callees.
    expect(call.callees.map((p) => p.userId).sort()).toEqual([ws.admin.id, bob.id, carol.id].sort());
    await waitEvent(b.sub, is('INCOMING', call.id));
    await waitEvent(c.sub, is('INCOMING', call.id));

    const declined = data(await wsOnce(b.client, RejectCall, { callId: call.id }), 'rejectCall');
    expect(declined).toMatchObject({ __typename: 'Call', status: 'RINGING' });
    await waitEvent(b.sub, is('DECLINED', call.id));
    expect(data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall')).toMatchObject({
      __typename: 'ConflictError',
    });

    expect(data(await wsOnce(c.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall')).toMatchObject({
      status: 'ACTIVE',
      answeredBy: { userId: carol.id },
    });
    await waitEvent(b.sub, is('ANSWERED_ELSEWHERE', call.id));
    // Bob is not in the call he declined: he may not end it.
    expect(data(await wsOnce(b.client, EndCall, { callId: call.id }), 'endCall')).toMatchObject({ __typename: 'ForbiddenError' });
    await wsOnce(c.client, EndCall, { callId: call.id });
    await waitEvent(a.sub, is('ENDED', call.id));
  });
});

describe('disconnects and timeouts', () => {
  it('ends the call for the other party within 2 s when a party’s last connection closes', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice);
    const b = listen(t, bob);
    const spare = listen(t, bob); // bob's second device, idle
    const call = await start(a.client, thread);
    await waitEvent(b.sub, is('INCOMING', call.id));
    await waitEvent(spare.sub, is('INCOMING', call.id));
    await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } });
    await waitEvent(a.sub, is('ACCEPTED', call.id));

    // Closing one of bob's two connections is not his last: the call goes on.
    await b.client.dispose();
    await until(() => t.app.services.connections.countFor(bob.id) === 1);
    await t.app.services.calls.settled();
    expect((await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } })).status).toBe('ACTIVE');

    const closedAt = Date.now();
    await spare.client.dispose();
    const end = await waitEvent(a.sub, is('ENDED', call.id), 2000);
    expect(Date.now() - closedAt).toBeLessThan(2000);
    expect(end).toMatchObject({ reason: 'DISCONNECTED', call: { status: 'ENDED', endedById: bob.id } });
    expect(await systemMessages(t, alice.token, thread)).toEqual([expect.stringMatching(/^Audio call, \d+ s$/)]);
  });

  it('cancels a ringing call when the caller disconnects', async () => {
    const { alice, bob, thread } = await setup();
    const a = listen(t, alice);
    const b = listen(t, bob);
    const call = await start(a.client, thread);
    await waitEvent(b.sub, is('INCOMING', call.id));
    await a.client.dispose();
    const end = await waitEvent(b.sub, is('ENDED', call.id), 2000);
    expect(end).toMatchObject({ reason: 'DISCONNECTED', call: { status: 'CANCELLED' } });
  });
});

describe('busy', () => {
  it('answers BUSY when the callee is in another call, and CONFLICT when the caller is', async () => {
    const { ws, alice, bob, carol, thread } = await setup();
    const carolThread = await directThread(t, carol, bob, ws.id);
    const a = listen(t, alice);
    const b = listen(t, bob);
    const c = listen(t, carol);
    const first = await start(a.client, thread);
    await waitEvent(b.sub, is('INCOMING', first.id));
    await wsOnce(b.client, AnswerCall, { input: { callId: first.id, sdp: ANSWER } });

    const second = await start(c.client, carolThread);
    expect(second).toMatchObject({ status: 'BUSY', endReason: 'BUSY', callees: [{ userId: bob.id }] });
    const busy = await waitEvent(c.sub, is('ENDED', second.id));
    expect(busy.reason).toBe('BUSY');
    expect(await systemMessages(t, bob.token, carolThread)).toEqual(['Missed audio call (busy)']);

    // Alice, in a call, cannot place another.
    const aliceCarol = await directThread(t, alice, carol, ws.id);
    const refused = data(await wsOnce(a.client, StartCall, { input: { conversationId: aliceCarol, sdp: OFFER } }), 'startCall');
    expect(refused).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });

    await wsOnce(a.client, EndCall, { callId: first.id });
    await waitEvent(b.sub, is('ENDED', first.id));
    // Bob never rang for the busy call.
    expect(events(b.sub, second.id)).toEqual([]);
    // Once free, bob can be called again.
    const third = await start(c.client, carolThread);
    expect(third.status).toBe('RINGING');
    await wsOnce(c.client, EndCall, { callId: third.id });
  });
});

describe('authorization', () => {
  it('a third user can neither answer, end, decline, relay to nor watch a call', async () => {
    const { alice, bob, dave, ws, thread } = await setup();
    const outsider = (await workspace(t, { eve: 'ADMIN' })).people.eve!;
    const a = listen(t, alice);
    const b = listen(t, bob);
    const call = await start(a.client, thread);
    await waitEvent(b.sub, is('INCOMING', call.id));

    for (const intruder of [dave, ws.admin, outsider]) {
      const token = intruder.token;
      expect(data(await t.exec(AnswerCall, { input: { callId: call.id, sdp: ANSWER } }, { token }), 'answerCall')).toMatchObject({ code: 'NOT_FOUND' });
      expect(data(await t.exec(EndCall, { callId: call.id }, { token }), 'endCall')).toMatchObject({ code: 'NOT_FOUND' });
      expect(data(await t.exec(RejectCall, { callId: call.id }, { token }), 'rejectCall')).toMatchObject({ code: 'NOT_FOUND' });
      expect(data(await t.exec(SendIce, { callId: call.id, candidate: { candidate: CANDIDATE } }, { token }), 'sendIceCandidate')).toMatchObject({
        code: 'NOT_FOUND',
      });
      const seen = await t.exec(GetCall, { id: call.id }, { token });
      expect(seen.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const listed = await t.exec(ListCalls, {}, { token });
      expect(listed.data?.calls.nodes.map((c) => c.id)).not.toContain(call.id);
      const watcher = t.ws({ token });
      const watch = collect(watcher, CallEvents, { callId: call.id });
      await watch.completed;
      expect(JSON.stringify(watch.results[0]?.errors ?? watch.errors)).toMatch(/NOT_FOUND/);
      await watcher.dispose();
    }

    // Nothing changed: the call still rings and bob can answer it.
    const row = await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } });
    expect(row).toMatchObject({ status: 'RINGING', version: 1 });
    expect(data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall')).toMatchObject({ status: 'ACTIVE' });
    await wsOnce(b.client, EndCall, { callId: call.id });
    // Dave's own event stream heard nothing of it.
    const d = listen(t, dave);
    const other = await start(d.client, await directThread(t, dave, alice, ws.id));
    await waitEvent(d.sub, is('RINGING', other.id));
    expect(events(d.sub, call.id)).toEqual([]);
    await wsOnce(d.client, EndCall, { callId: other.id });
  });
});

describe('bad input', () => {
  it('gets a clear error and changes nothing', async () => {
    const { alice, bob, carol, ws, thread } = await setup();
    const a = listen(t, alice);
    const b = listen(t, bob);
    const callsIn = () => t.app.services.db.call.count({ where: { conversationId: thread } });

    const huge = data(await wsOnce(a.client, StartCall, { input: { conversationId: thread, sdp: OFFER + 'a=x\r\n'.repeat(7000) } }), 'startCall');
    expect(huge).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    expect(JSON.stringify(huge)).toMatch(/at most 32768 characters/);
    const notSdp = data(await wsOnce(a.client, StartCall, { input: { conversationId: thread, sdp: 'hello' } }), 'startCall');
    expect(notSdp).toMatchObject({ __typename: 'ValidationError', issues: [{ path: ['input', 'sdp'] }] });
    const self = data(await wsOnce(a.client, StartCall, { input: { conversationId: thread, sdp: OFFER, calleeId: alice.id } }), 'startCall');
    expect(self).toMatchObject({ __typename: 'ValidationError' });
    const stranger = data(await wsOnce(a.client, StartCall, { input: { conversationId: thread, sdp: OFFER, calleeId: carol.id } }), 'startCall');
    expect(stranger).toMatchObject({ __typename: 'NotFoundError' });
    const unknown = data(await wsOnce(a.client, StartCall, { input: { conversationId: '8a0c0d3e-1111-4222-8333-944455556666', sdp: OFFER } }), 'startCall');
    expect(unknown).toMatchObject({ __typename: 'NotFoundError' });
    const lonely = data(await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Alone' } }, { token: ws.admin.token }), 'createRoom');
    if (lonely.__typename !== 'Room') throw new Error('room');
    const nobody = data(await t.exec(StartCall, { input: { conversationId: lonely.id, sdp: OFFER } }, { token: ws.admin.token }), 'startCall');
    expect(nobody).toMatchObject({ __typename: 'ValidationError', message: expect.stringMatching(/nobody else/) });
    expect(await callsIn()).toBe(0);

    const call = await start(a.client, thread);
    await waitEvent(b.sub, is('INCOMING', call.id));
    // The caller cannot answer their own call; a callee cannot relay before answering.
    expect(data(await wsOnce(a.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall')).toMatchObject({ __typename: 'ForbiddenError' });
    expect(data(await wsOnce(b.client, SendIce, { callId: call.id, candidate: { candidate: CANDIDATE } }), 'sendIceCandidate')).toMatchObject({
      __typename: 'ConflictError',
    });
    const bigAnswer = data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER + 'x'.repeat(40_000) } }), 'answerCall');
    expect(bigAnswer).toMatchObject({ __typename: 'ValidationError' });
    const bigCandidate = data(await wsOnce(a.client, SendIce, { callId: call.id, candidate: { candidate: 'c'.repeat(2000) } }), 'sendIceCandidate');
    expect(bigCandidate).toMatchObject({ __typename: 'ValidationError' });
    expect(await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } })).toMatchObject({ status: 'RINGING', version: 1 });

    // End it, then try to answer, end and relay again.
    await wsOnce(a.client, EndCall, { callId: call.id });
    await waitEvent(b.sub, is('ENDED', call.id));
    const before = await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } });
    expect(before).toMatchObject({ status: 'CANCELLED', endReason: 'CANCELLED' });
    const late = data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall');
    expect(late).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', message: expect.stringMatching(/over \(CANCELLED\)/) });
    const again = data(await wsOnce(a.client, EndCall, { callId: call.id }), 'endCall');
    expect(again).toMatchObject({ __typename: 'ConflictError' });
    const ice = data(await wsOnce(a.client, SendIce, { callId: call.id, candidate: { candidate: CANDIDATE } }), 'sendIceCandidate');
    expect(ice).toMatchObject({ __typename: 'ConflictError' });
    // Someone else's call: NOT_FOUND.
    const carolEnds = data(await t.exec(EndCall, { callId: call.id }, { token: carol.token }), 'endCall');
    expect(carolEnds).toMatchObject({ __typename: 'NotFoundError' });
    const after = await t.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } });
    expect(after).toEqual(before);
    expect(await systemMessages(t, alice.token, thread)).toEqual(['Cancelled audio call']);
  });
});

describe('history', () => {
  it('lists calls per conversation and per user, newest first, to the parties only', async () => {
    const { ws, alice, bob, carol, thread } = await setup();
    const other = await directThread(t, alice, carol, ws.id);
    const a = listen(t, alice);
    const ids: string[] = [];
    for (const conversationId of [thread, other, thread]) {
      const call = await start(a.client, conversationId);
      ids.push(call.id);
      await wsOnce(a.client, EndCall, { callId: call.id });
    }
    const mine = await t.exec(ListCalls, {}, { token: alice.token });
    expect(mine.data?.calls.nodes.map((c) => c.id)).toEqual([...ids].reverse());
    const inThread = await t.exec(ListCalls, { conversationId: thread }, { token: bob.token });
    expect(inThread.data?.calls.nodes.map((c) => c.id)).toEqual([ids[2], ids[0]]);
    const page1 = await t.exec(ListCalls, { first: 2 }, { token: alice.token });
    expect(page1.data?.calls.pageInfo.hasNextPage).toBe(true);
    const page2 = await t.exec(ListCalls, { first: 2, after: page1.data!.calls.pageInfo.endCursor }, { token: alice.token });
    expect(page2.data?.calls.nodes.map((c) => c.id)).toEqual([ids[0]]);
    const carols = await t.exec(ListCalls, {}, { token: carol.token });
    expect(carols.data?.calls.nodes.map((c) => c.id)).toEqual([ids[1]]);
    const one = await t.exec(GetCall, { id: ids[1]! }, { token: carol.token });
    expect(one.data?.call).toMatchObject({ status: 'CANCELLED', caller: { userId: alice.id }, conversationId: other });
    expect(await systemMessages(t, alice.token, thread)).toEqual(['Cancelled audio call', 'Cancelled audio call']);
  });
});

describe('ring timeout', () => {
  let short: TestApp;
  beforeAll(async () => {
    short = await startTestApp({ CALL_RING_TIMEOUT_MS: '700' });
  });
  afterAll(async () => {
    await short?.close();
  });

  it('turns an unanswered call MISSED after the configured timeout and tells both sides', async () => {
    const { alice, bob, thread } = await setup(short);
    const a = listen(short, alice);
    const b = listen(short, bob);
    const call = await start(a.client, thread);
    await waitEvent(a.sub, is('RINGING', call.id));
    await waitEvent(b.sub, is('INCOMING', call.id));
    for (const sub of [a.sub, b.sub]) {
      const end = await waitEvent(sub, is('ENDED', call.id));
      expect(end).toMatchObject({ reason: 'NO_ANSWER', call: { status: 'MISSED' } });
    }
    const late = data(await wsOnce(b.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } }), 'answerCall');
    expect(late).toMatchObject({ __typename: 'ConflictError', message: expect.stringMatching(/MISSED/) });
    expect(await systemMessages(short, bob.token, thread)).toEqual(['Missed audio call']);
  });
});

describe('restarts and other instances', () => {
  it('a ring timeout holds across a restart: the next instance settles it from the database', async () => {
    const first = await startTestApp({ CALL_RING_TIMEOUT_MS: '500' });
    const { alice, bob, thread } = await setup(first);
    const a = listen(first, alice);
    const call = await start(a.client, thread);
    await first.stop(); // before the timeout: no timer of the first instance survives
    // The database outlives the stopped server; the ring deadline passes while no instance runs.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(call.ringUntil) - Date.now()) + 20));
    const second = await startTestApp({ CALL_RING_TIMEOUT_MS: '500' }, first.db);
    try {
      // The new instance's first sweep, which runs as it starts, settles it.
      await second.app.services.calls.settled();
      const seen = await second.exec(GetCall, { id: call.id }, { token: bob.token });
      expect(seen.data?.call).toMatchObject({ status: 'MISSED', endReason: 'NO_ANSWER' });
      expect(await systemMessages(second, bob.token, thread)).toEqual(['Missed audio call']);
    } finally {
      await second.close();
    }
  });

  it.runIf(usingPostgres && usingRedis)(
    'another instance takes over ring timeouts and sees a party’s last connection close on another instance',
    async () => {
      const one = await startTestApp({ CALL_RING_TIMEOUT_MS: '800', CALL_SWEEP_INTERVAL_MS: '300' });
      const two = await startTestApp({ CALL_RING_TIMEOUT_MS: '800', CALL_SWEEP_INTERVAL_MS: '300' }, one.db);
      try {
        const { alice, bob, thread } = await setup(one);
        // Alice and Bob listen on instance two; the call is placed through instance one, which then stops.
        const a = listen(two, alice);
        const b = listen(two, bob);
        const missed = data(await one.exec(StartCall, { input: { conversationId: thread, sdp: OFFER } }, { token: alice.token }), 'startCall');
        if (missed.__typename !== 'Call') throw new Error(JSON.stringify(missed));
        await waitEvent(b.sub, is('INCOMING', missed.id));
        await one.stop();
        for (const sub of [a.sub, b.sub]) expect((await waitEvent(sub, is('ENDED', missed.id))).call.status).toBe('MISSED');

        // Bob on both instances: a third one joins, alice calls, bob answers from instance three.
        const three = await startTestApp({ CALL_SWEEP_INTERVAL_MS: '60000' }, one.db);
        try {
          const b3 = listen(three, bob);
          const call = await start(a.client, thread);
          await waitEvent(b3.sub, is('INCOMING', call.id));
          await waitEvent(b.sub, is('INCOMING', call.id));
          await wsOnce(b3.client, AnswerCall, { input: { callId: call.id, sdp: ANSWER } });
          await waitEvent(a.sub, is('ACCEPTED', call.id));
          // Bob leaves instance three; he is still connected on instance two, so the call goes on.
          await b3.client.dispose();
          await until(() => three.app.services.connections.countFor(bob.id) === 0);
          await three.app.services.calls.settled();
          expect((await two.app.services.db.call.findUniqueOrThrow({ where: { id: call.id } })).status).toBe('ACTIVE');
          // His last connection, on instance two, closes: alice hears ENDED within 2 s.
          const closedAt = Date.now();
          await b.client.dispose();
          const end = await waitEvent(a.sub, is('ENDED', call.id), 2000);
          expect(Date.now() - closedAt).toBeLessThan(2000);
          expect(end).toMatchObject({ reason: 'DISCONNECTED' });
        } finally {
          await three.stop();
        }
      } finally {
        await two.stop();
        await one.close();
      }
    },
  );
});

async function until<T>(check: () => T | Promise<T>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
