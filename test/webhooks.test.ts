/**
 * Webhooks end to end: real servers, a real HTTP receiver on 127.0.0.1 (allowed by
 * WEBHOOK_ALLOW_LOOPBACK), real deliveries. Every event type is delivered and verified; retries
 * follow a 500 and a timeout; a conversation's deliveries go one at a time, in order; a hanging
 * endpoint does not hold up the API; what was queued while no instance ran goes out when one
 * starts; two instances sharing PostgreSQL never both send an event; loopback endpoints are
 * refused at registration and at delivery when the setting is off.
 */
import type { ResultOf } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { usingPostgres } from './helpers/database.js';
import { workspace } from './helpers/fixtures.js';
import { closeTicket, lineManager, openTicket, product } from './helpers/support.js';
import {
  CreateEndpointDoc,
  DeliveriesDoc,
  Receiver,
  verifyAsReadme,
  verifyGitHubStyle,
  type Received,
} from './helpers/webhooks.js';
import type { WebhookEventType } from './gql/graphql.js';

const FAST = {
  WEBHOOK_ALLOW_LOOPBACK: 'true',
  WEBHOOK_POLL_INTERVAL_MS: '50',
  WEBHOOK_RETRY_BASE_MS: '50',
  WEBHOOK_RETRY_MAX_MS: '200',
  WEBHOOK_TIMEOUT_MS: '10000',
};

const ALL_TYPES: WebhookEventType[] = [
  'MESSAGE_CREATED',
  'MESSAGE_EDITED',
  'MESSAGE_DELETED',
  'TICKET_OPENED',
  'TICKET_ASSIGNED',
  'TICKET_CLOSED',
  'TICKET_RATED',
  'CALL_ENDED',
];

const CreateRoom = graphql(`
  mutation WebhookRoom($input: CreateRoomInput!) {
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

const Send = graphql(`
  mutation WebhookSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Edit = graphql(`
  mutation WebhookEdit($id: ID!, $body: String!) {
    editMessage(id: $id, body: $body) {
      __typename
    }
  }
`);

const Delete = graphql(`
  mutation WebhookDelete($id: ID!) {
    deleteMessage(id: $id) {
      __typename
    }
  }
`);

const StartCall = graphql(`
  mutation WebhookStartCall($input: StartCallInput!) {
    startCall(input: $input) {
      __typename
      ... on Call {
        id
      }
      ... on Error {
        message
      }
    }
  }
`);

const EndCall = graphql(`
  mutation WebhookEndCall($callId: ID!) {
    endCall(callId: $callId) {
      __typename
      ... on Call {
        status
      }
    }
  }
`);

const Redeliver = graphql(`
  mutation WebhookRedeliver($id: ID!) {
    redeliverWebhook(id: $id) {
      __typename
      ... on WebhookDelivery {
        status
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const UpdateEndpoint = graphql(`
  mutation WebhookUpdate($input: UpdateWebhookEndpointInput!) {
    updateWebhookEndpoint(input: $input) {
      __typename
      ... on WebhookEndpoint {
        enabled
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Rotate = graphql(`
  mutation WebhookRotate($id: ID!) {
    rotateWebhookSecret(id: $id) {
      __typename
      ... on WebhookEndpointSecret {
        secret
      }
      ... on Error {
        code
      }
    }
  }
`);

const DeleteEndpoint = graphql(`
  mutation WebhookDeleteEndpoint($id: ID!) {
    deleteWebhookEndpoint(id: $id) {
      __typename
      ... on DeletedWebhookEndpoint {
        id
      }
      ... on Error {
        code
      }
    }
  }
`);

const RateTicket = graphql(`
  mutation WebhookRate($input: RateTicketInput!) {
    rateTicket(input: $input) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const Endpoints = graphql(`
  query WebhookEndpoints($workspaceId: ID!) {
    webhookEndpoints(workspaceId: $workspaceId) {
      id
      url
      secretHint
      eventTypes
    }
  }
`);

const OFFER = ['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=sendrecv', ''].join('\r\n');

async function register(t: TestApp, token: string, workspaceId: string, url: string, eventTypes = ALL_TYPES) {
  const res = await t.exec(CreateEndpointDoc, { input: { workspaceId, url, eventTypes } }, { token });
  const created = res.data?.createWebhookEndpoint;
  if (created?.__typename !== 'WebhookEndpointSecret') throw new Error(`createWebhookEndpoint: ${JSON.stringify(res)}`);
  return { id: created.endpoint.id, secret: created.secret, endpoint: created.endpoint };
}

async function room(t: TestApp, token: string, workspaceId: string, memberIds: string[] = []): Promise<string> {
  const res = await t.exec(CreateRoom, { input: { workspaceId, name: 'Room', memberIds } }, { token });
  if (res.data?.createRoom.__typename !== 'Room') throw new Error(JSON.stringify(res));
  return res.data.createRoom.id;
}

async function send(t: TestApp, token: string, conversationId: string, body: string) {
  const res = await t.exec(Send, { input: { conversationId, body } }, { token });
  if (res.data?.sendMessage.__typename !== 'Message') throw new Error(JSON.stringify(res));
  return res.data.sendMessage;
}

async function deliveries(t: TestApp, token: string, endpointId: string): Promise<ResultOf<typeof DeliveriesDoc>['webhookDeliveries']> {
  const all: ResultOf<typeof DeliveriesDoc>['webhookDeliveries'] = [];
  let after: string | undefined;
  for (;;) {
    const res = await t.exec(DeliveriesDoc, { endpointId, first: 100, after }, { token });
    if (!res.data) throw new Error(JSON.stringify(res));
    all.push(...res.data.webhookDeliveries);
    if (res.data.webhookDeliveries.length < 100) return all;
    after = res.data.webhookDeliveries.at(-1)!.id;
  }
}

/** Per conversation, the sequences of the requests in the order they arrived. */
function arrivalOrder(requests: Received[]): Map<string, number[]> {
  const byConversation = new Map<string, number[]>();
  for (const r of requests) {
    const list = byConversation.get(r.body.conversationId) ?? [];
    list.push(r.body.sequence);
    byConversation.set(r.body.conversationId, list);
  }
  return byConversation;
}

/** Each conversation's successful deliveries are 1, 2, 3 … n, once each, in that order. */
function expectInOrderOnce(requests: Received[]): void {
  for (const [conversationId, sequences] of arrivalOrder(requests)) {
    expect({ conversationId, sequences }).toEqual({ conversationId, sequences: sequences.map((_, i) => i + 1) });
  }
}

describe('webhooks', () => {
  let t: TestApp;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await startTestApp(FAST);
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it('delivers every event type once per attempt, each signature verifying, in order per conversation', async () => {
    const ws = await workspace(t, { agent: 'AGENT', customer: 'CLIENT' });
    const { admin, people } = ws;
    const { id: endpointId, secret, endpoint } = await register(t, admin.token, ws.id, receiver.url);
    expect(secret).toMatch(/^whsec_[\w-]{40,}$/);
    expect(endpoint).toMatchObject({ enabled: true, secretHint: `…${secret.slice(-4)}` });
    expect(endpoint.eventTypes).toEqual(ALL_TYPES);
    // The secret is shown once: nothing reads it back.
    const listed = await t.exec(Endpoints, { workspaceId: ws.id }, { token: people.agent!.token });
    expect(listed.data?.webhookEndpoints).toEqual([{ id: endpointId, url: receiver.url, secretHint: `…${secret.slice(-4)}`, eventTypes: ALL_TYPES }]);
    expect(JSON.stringify(listed)).not.toContain(secret);
    // A customer does not see the workspace's endpoints.
    const refused = await t.exec(Endpoints, { workspaceId: ws.id }, { token: people.customer!.token });
    expect(refused.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const from = receiver.requests.length;
    // Messages: created, edited, deleted.
    const roomId = await room(t, admin.token, ws.id, [people.agent!.id]);
    const first = await send(t, admin.token, roomId, 'hello');
    await send(t, people.agent!.token, roomId, 'hi there');
    expect((await t.exec(Edit, { id: first.id, body: 'hello, edited' }, { token: admin.token })).data?.editMessage.__typename).toBe('Message');
    expect((await t.exec(Delete, { id: first.id }, { token: admin.token })).data?.deleteMessage.__typename).toBe('Message');
    // Tickets: opened, assigned (a line manager is free), closed.
    await lineManager(t, admin.token, { workspaceId: ws.id, userId: people.agent!.id, capacity: 5 });
    const p = await product(t, admin.token, ws.id);
    const ticket = await openTicket(t, people.customer!.token, { workspaceId: ws.id, productId: p.id });
    expect((await closeTicket(t, admin.token, ticket.id, 'solved'))?.__typename).toBe('Ticket');
    // The customer rates it: ticket.rated.
    const rated = await t.exec(RateTicket, { input: { ticketId: ticket.id, score: 4, comment: 'quick' } }, { token: people.customer!.token });
    expect(rated.data?.rateTicket.__typename).toBe('TicketRating');
    // A call, cancelled by its caller: call.ended, and its system message.
    const started = await t.exec(StartCall, { input: { conversationId: roomId, sdp: OFFER } }, { token: admin.token });
    if (started.data?.startCall.__typename !== 'Call') throw new Error(JSON.stringify(started));
    expect((await t.exec(EndCall, { callId: started.data.startCall.id }, { token: admin.token })).data?.endCall.__typename).toBe('Call');

    const expected: Array<[string, string]> = [
      [roomId, 'message.created'],
      [roomId, 'message.created'],
      [roomId, 'message.edited'],
      [roomId, 'message.deleted'],
      [ticket.id, 'ticket.opened'],
      [ticket.id, 'ticket.assigned'],
      [ticket.id, 'ticket.closed'],
      [ticket.id, 'ticket.rated'],
      [roomId, 'call.ended'],
      [roomId, 'message.created'],
    ];
    await receiver.until(() => receiver.requests.length - from >= expected.length, 20_000, 'every event delivered');
    await t.app.services.webhooks.settled();
    const got = receiver.requests.slice(from);
    expect(got).toHaveLength(expected.length);
    expect(got.map((r) => [r.body.conversationId, r.body.type]).sort()).toEqual([...expected].sort());
    for (const r of got) {
      expect(verifyAsReadme(secret, r.raw, r.headers['webhook-signature'] as string)).toBe(true);
      expect(verifyGitHubStyle(secret, r.raw, r.headers['x-hub-signature-256'] as string)).toBe(true);
      // A wrong secret or a changed body does not verify.
      expect(verifyAsReadme(`${secret}x`, r.raw, r.headers['webhook-signature'] as string)).toBe(false);
      expect(verifyAsReadme(secret, r.raw.replace('}', ' }'), r.headers['webhook-signature'] as string)).toBe(false);
      expect(r.headers).toMatchObject({ 'webhook-id': r.body.id, 'webhook-event': r.body.type, 'webhook-attempt': '1', 'content-type': 'application/json' });
      expect(r.body.workspaceId).toBe(ws.id);
    }
    // Each conversation's events arrive numbered 1, 2, 3 … in the order they happened.
    expect(arrivalOrder(got).get(roomId)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(got.filter((r) => r.body.conversationId === roomId).map((r) => r.body.type)).toEqual([
      'message.created',
      'message.created',
      'message.edited',
      'message.deleted',
      'call.ended',
      'message.created',
    ]);
    expect(got.filter((r) => r.body.conversationId === ticket.id).map((r) => r.body.type)).toEqual(['ticket.opened', 'ticket.assigned', 'ticket.closed', 'ticket.rated']);
    const byType = (type: string) => got.filter((r) => r.body.type === type).map((r) => r.body.data);
    expect(byType('message.created')[0]).toMatchObject({ message: { id: first.id, seq: 1, body: 'hello', authorId: admin.id, author: { id: admin.id } } });
    expect(byType('message.edited')[0]).toMatchObject({ message: { id: first.id, body: 'hello, edited' } });
    expect(byType('message.deleted')[0]).toMatchObject({ message: { id: first.id, body: '' } });
    expect(byType('message.deleted')[0]!.message.deletedAt).toBeTruthy();
    expect(byType('ticket.assigned')[0]).toMatchObject({ ticket: { id: ticket.id, status: 'ASSIGNED', agentUserId: people.agent!.id }, transferred: false });
    expect(byType('ticket.closed')[0]).toMatchObject({ ticket: { id: ticket.id, status: 'CLOSED', closeNote: 'solved', customerId: people.customer!.id } });
    expect(byType('ticket.rated')[0]).toMatchObject({ ticket: { id: ticket.id, status: 'CLOSED' }, rating: { score: 4, comment: 'quick', customerId: people.customer!.id } });
    expect(byType('call.ended')[0]).toMatchObject({ call: { status: 'CANCELLED', endReason: 'CANCELLED', callerId: admin.id } });

    // The delivery log agrees: one attempt each, all succeeded.
    const log = await deliveries(t, admin.token, endpointId);
    expect(log).toHaveLength(expected.length);
    for (const d of log) {
      expect(d).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastStatusCode: 204 });
      expect(d.attemptLog).toMatchObject([{ number: 1, statusCode: 204, succeeded: true, error: null }]);
    }
    // A change refused (closing a closed ticket) rolls back with its event: nothing is recorded.
    expect(await closeTicket(t, admin.token, ticket.id)).toMatchObject({ code: 'CONFLICT' });
    // (The ticket's four: opened, assigned, closed, rated.)
    expect(await t.app.services.db.webhookEvent.count({ where: { conversationId: ticket.id } })).toBe(4);
    // Another workspace's admin cannot read the log.
    const stranger = await workspace(t);
    const foreign = await t.exec(DeliveriesDoc, { endpointId }, { token: stranger.admin.token });
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  }, 90_000);

  it('retries after a 500 and after a timeout with backoff, parks after the last attempt, and redelivers on request', async () => {
    const app = await startTestApp({ ...FAST, WEBHOOK_TIMEOUT_MS: '2500', WEBHOOK_MAX_ATTEMPTS: '3' });
    const local = await Receiver.start();
    try {
      const ws = await workspace(app);
      const { admin } = ws;
      const { id: endpointId, secret } = await register(app, admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      const roomA = await room(app, admin.token, ws.id);
      // Attempt 1 answers 500, attempt 2 never answers (the worker times out), attempt 3 succeeds.
      local.answer = (body, attempt) => (body.data.message.body === 'doomed' ? 500 : attempt === 1 ? 500 : attempt === 2 ? 'hang' : 200);
      await send(app, admin.token, roomA, 'retried');
      await local.until(() => local.succeeded().length === 1, 20_000, 'the third attempt');
      expect(local.requests.map((r) => [r.headers['webhook-attempt'], r.answer])).toEqual([
        ['1', 500],
        ['2', 'hang'],
        ['3', 200],
      ]);
      // The same event each time, signed afresh each time.
      expect(new Set(local.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
      expect(new Set(local.requests.map((r) => r.raw)).size).toBe(1);
      for (const r of local.requests) expect(verifyAsReadme(secret, r.raw, r.headers['webhook-signature'] as string)).toBe(true);
      await app.app.services.webhooks.settled();
      const [retried] = await deliveries(app, admin.token, endpointId);
      expect(retried).toMatchObject({ status: 'SUCCEEDED', attempts: 3, lastStatusCode: 200, lastError: null });
      expect(retried!.attemptLog).toMatchObject([
        { number: 1, statusCode: 500, succeeded: false, error: 'HTTP 500', responseBody: 'failing on purpose (500)' },
        { number: 2, statusCode: null, succeeded: false, error: 'timed out after 2500 ms' },
        { number: 3, statusCode: 200, succeeded: true, error: null },
      ]);
      expect(retried!.attemptLog[1]!.durationMs).toBeGreaterThanOrEqual(2400);

      // Always 500: parked after WEBHOOK_MAX_ATTEMPTS (3).
      const before = local.requests.length;
      await send(app, admin.token, roomA, 'doomed');
      await local.until(() => local.requests.length - before === 3, 20_000, 'three failed attempts');
      await app.app.services.webhooks.settled();
      let [doomed] = await deliveries(app, admin.token, endpointId);
      expect(doomed).toMatchObject({ status: 'PARKED', attempts: 3, lastStatusCode: 500, lastError: 'HTTP 500' });
      // Parked stays parked: a full look for due work after it sends nothing more.
      app.app.services.webhooks.kick();
      await app.app.services.webhooks.settled();
      expect(local.requests.length - before).toBe(3);

      // Redelivered: a fourth attempt of the same event, which now succeeds.
      local.answer = () => 200;
      const again = await app.exec(Redeliver, { id: doomed!.id }, { token: admin.token });
      // PENDING, or already IN_FLIGHT: the worker is told at once.
      expect(again.data?.redeliverWebhook).toMatchObject({ __typename: 'WebhookDelivery', status: expect.stringMatching(/^(PENDING|IN_FLIGHT)$/) });
      await local.until(() => local.requests.length - before === 4, 20_000, 'the redelivery');
      await app.app.services.webhooks.settled();
      [doomed] = await deliveries(app, admin.token, endpointId);
      expect(doomed).toMatchObject({ status: 'SUCCEEDED', attempts: 4 });
      expect(local.requests.at(-1)!.headers['webhook-attempt']).toBe('4');
      expect(local.requests.at(-1)!.body.id).toBe(local.requests[before]!.body.id);
      // Only admins redeliver; a stranger's id is NOT_FOUND.
      const stranger = await workspace(app);
      expect((await app.exec(Redeliver, { id: doomed!.id }, { token: stranger.admin.token })).data?.redeliverWebhook).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await local.close();
      await app.close();
    }
  }, 90_000);

  it('sends one delivery of a conversation at a time, in order, while many conversations are written concurrently', async () => {
    const local = await Receiver.start();
    try {
      const ws = await workspace(t, { agent: 'AGENT' });
      const { admin, people } = ws;
      const { id: endpointId } = await register(t, admin.token, ws.id, local.url, ['MESSAGE_CREATED', 'MESSAGE_EDITED']);
      // Slow answers widen every race; every 5th request fails, so retries are in the mix.
      local.answer = async (_body, _attempt, index) => {
        await new Promise((r) => setTimeout(r, 5 + (index % 4) * 5));
        return index % 5 === 4 ? 500 : 200;
      };
      const rooms = await Promise.all([0, 1, 2, 3].map(() => room(t, admin.token, ws.id, [people.agent!.id])));
      const perRoom = 12;
      await Promise.all(
        rooms.flatMap((r) => Array.from({ length: perRoom }, (_, i) => send(t, i % 2 ? admin.token : people.agent!.token, r, `m${i}`))),
      );
      await local.until(() => local.succeeded().length === rooms.length * perRoom, 60_000, 'every message delivered');
      await t.app.services.webhooks.settled();
      expect(local.maxOpenPerConversation).toBe(1);
      expect(local.maxOpen).toBeLessThanOrEqual(t.app.config.WEBHOOK_CONCURRENCY);
      expectInOrderOnce(local.succeeded());
      // Retries included, each conversation's requests never go backwards.
      for (const sequences of arrivalOrder(local.requests).values()) expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
      // Each message's created event carries its seq, which its sequence follows here.
      for (const r of local.succeeded()) expect(r.body.data.message.seq).toBe(r.body.sequence);
      expect(local.requests.length).toBeGreaterThan(rooms.length * perRoom);
      // Once per attempt: the receiver got each delivery exactly as many times as its log counts.
      const log = await deliveries(t, admin.token, endpointId);
      expect(log).toHaveLength(rooms.length * perRoom);
      const received = new Map<string, number>();
      for (const q of local.requests) received.set(q.headers['webhook-delivery'] as string, (received.get(q.headers['webhook-delivery'] as string) ?? 0) + 1);
      for (const d of log) {
        expect({ id: d.id, status: d.status, received: received.get(d.id) }).toEqual({ id: d.id, status: 'SUCCEEDED', received: d.attempts });
        expect(d.attemptLog.map((a) => a.number)).toEqual(Array.from({ length: d.attempts }, (_, i) => i + 1));
      }
    } finally {
      await local.close();
    }
  }, 90_000);

  it('keeps answering the API while the endpoint holds every delivery open', async () => {
    const app = await startTestApp({ ...FAST, WEBHOOK_TIMEOUT_MS: '60000', WEBHOOK_CONCURRENCY: '4' });
    const local = await Receiver.start();
    try {
      const ws = await workspace(app);
      await register(app, ws.admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      local.answer = () => 'hang';
      const rooms = await Promise.all([0, 1, 2, 3, 4, 5].map(() => room(app, ws.admin.token, ws.id)));
      await send(app, ws.admin.token, rooms[0]!, 'first');
      await local.until(() => local.heldCount === 1, 20_000, 'a held delivery');
      // While deliveries hang, sends to every room are answered: none waits for the endpoint.
      const sent = await Promise.all(rooms.flatMap((r) => [1, 2, 3].map((i) => send(app, ws.admin.token, r, `while held ${i}`))));
      expect(sent).toHaveLength(18);
      await local.until(() => local.heldCount === 4, 20_000, 'the worker at its concurrency');
      // Bounded: no more than WEBHOOK_CONCURRENCY held, one per conversation.
      expect(local.heldCount).toBe(4);
      expect(local.maxOpenPerConversation).toBe(1);
      local.answer = () => 200;
      local.release(200);
      await local.until(() => local.succeeded().length === 19, 30_000, 'the rest delivered once released');
      expectInOrderOnce(local.succeeded());
    } finally {
      await local.close();
      await app.close();
    }
  }, 90_000);

  it('refuses loopback endpoints at registration and at delivery when WEBHOOK_ALLOW_LOOPBACK is off', async () => {
    const app = await startTestApp({ ...FAST, WEBHOOK_ALLOW_LOOPBACK: 'false', WEBHOOK_MAX_ATTEMPTS: '1' });
    const local = await Receiver.start();
    try {
      const ws = await workspace(app);
      for (const url of [
        local.url,
        `http://127.0.0.2:${local.port}/hooks`,
        `http://localhost:${local.port}/hooks`,
        `http://[::1]:${local.port}/`,
        `http://[::ffff:127.0.0.1]:${local.port}/`,
        'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/',
        'ftp://example.com/',
        'http://user:pw@example.com/',
      ]) {
        const res = await app.exec(CreateEndpointDoc, { input: { workspaceId: ws.id, url, eventTypes: ['MESSAGE_CREATED'] } }, { token: ws.admin.token });
        expect({ url, code: (res.data?.createWebhookEndpoint as { code?: string }).code }).toEqual({ url, code: 'BAD_USER_INPUT' });
      }
      const named = await app.exec(
        CreateEndpointDoc,
        { input: { workspaceId: ws.id, url: `http://localhost:${local.port}/hooks`, eventTypes: ['MESSAGE_CREATED'] } },
        { token: ws.admin.token },
      );
      expect((named.data?.createWebhookEndpoint as { message: string }).message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), and .* is a loopback address/);
      expect(await app.app.services.db.webhookEndpoint.count()).toBe(0);

      // Endpoints that passed when they were registered (a name that resolved elsewhere then, an
      // instance with the setting on): written directly, as registration would have. At delivery
      // the DNS answers of that moment are checked, and refused.
      for (const url of [`http://localhost:${local.port}/hooks`, `http://127.0.0.1:${local.port}/hooks`]) {
        await app.app.services.db.webhookEndpoint.create({ data: { workspaceId: ws.id, url, secret: 'whsec_test', eventTypes: ['message.created'] } });
      }
      const r = await room(app, ws.admin.token, ws.id);
      await send(app, ws.admin.token, r, 'to loopback');
      const worker = app.app.services.webhooks;
      const endpoints = await app.app.services.db.webhookEndpoint.findMany({ orderBy: { url: 'asc' } });
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 20_000;
        const check = async () => {
          const parked = await app.app.services.db.webhookDelivery.count({ where: { status: 'PARKED' } });
          if (parked === 2) return resolve();
          if (Date.now() > deadline) return reject(new Error(`only ${parked} parked`));
          setTimeout(() => void check().catch(reject), 50);
        };
        void check().catch(reject);
      });
      await worker.settled();
      const errors: string[] = [];
      for (const e of endpoints) {
        const [d] = await deliveries(app, ws.admin.token, e.id);
        expect(d).toMatchObject({ status: 'PARKED', attempts: 1, lastStatusCode: null });
        errors.push(d!.attemptLog[0]!.error!);
      }
      expect(errors).toEqual([
        expect.stringMatching(/^address refused: 127\.0\.0\.1 is a loopback address$/),
        expect.stringMatching(/^address refused: localhost resolves to (127\.0\.0\.1|::1), and .* is a loopback address$/),
      ]);
      // Nothing reached the receiver.
      expect(local.requests).toHaveLength(0);
    } finally {
      await local.close();
      await app.close();
    }
  }, 90_000);

  it('lets admins manage endpoints: bad input and other roles refused, disabled ones skipped, rotated secrets sign', async () => {
    const local = await Receiver.start();
    try {
      const ws = await workspace(t, { agent: 'AGENT' });
      const { admin, people } = ws;
      const input = { workspaceId: ws.id, url: local.url, eventTypes: ['MESSAGE_CREATED'] as WebhookEventType[] };
      const agentTry = await t.exec(CreateEndpointDoc, { input }, { token: people.agent!.token });
      expect(agentTry.data?.createWebhookEndpoint).toMatchObject({ code: 'FORBIDDEN' });
      const stranger = await workspace(t);
      expect((await t.exec(CreateEndpointDoc, { input }, { token: stranger.admin.token })).data?.createWebhookEndpoint).toMatchObject({ code: 'NOT_FOUND' });
      expect((await t.exec(CreateEndpointDoc, { input: { ...input, eventTypes: [] } }, { token: admin.token })).data?.createWebhookEndpoint).toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      expect(await t.app.services.db.webhookEndpoint.count({ where: { workspaceId: ws.id } })).toBe(0);

      const { id: endpointId, secret } = await register(t, admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      // Disabled: nothing is recorded for it, nothing is sent.
      expect((await t.exec(UpdateEndpoint, { input: { id: endpointId, enabled: false } }, { token: admin.token })).data?.updateWebhookEndpoint).toMatchObject({
        enabled: false,
      });
      expect((await t.exec(UpdateEndpoint, { input: { id: endpointId, enabled: true } }, { token: people.agent!.token })).data?.updateWebhookEndpoint).toMatchObject({
        code: 'FORBIDDEN',
      });
      const r = await room(t, admin.token, ws.id);
      for (const body of ['one', 'two', 'three']) await send(t, admin.token, r, body);
      const worker = t.app.services.webhooks;
      worker.kick();
      await worker.settled();
      expect(local.requests).toHaveLength(0);
      expect(await t.app.services.db.webhookDelivery.count({ where: { endpointId } })).toBe(0);
      // Rotated while disabled: what is sent from now on is signed with the new secret only.
      const rotated = await t.exec(Rotate, { id: endpointId }, { token: admin.token });
      if (rotated.data?.rotateWebhookSecret.__typename !== 'WebhookEndpointSecret') throw new Error(JSON.stringify(rotated));
      const fresh = rotated.data.rotateWebhookSecret.secret;
      expect(fresh).not.toBe(secret);
      // Enabled again: what happens from now on is sent.
      await t.exec(UpdateEndpoint, { input: { id: endpointId, enabled: true } }, { token: admin.token });
      for (const body of ['four', 'five', 'six']) await send(t, admin.token, r, body);
      await local.until(() => local.requests.length === 3, 20_000, 'the events after enabling');
      expect(local.requests.map((q) => q.body.data.message.body)).toEqual(['four', 'five', 'six']);
      expect(local.requests.map((q) => q.body.sequence)).toEqual([1, 2, 3]);
      for (const q of local.requests) {
        expect(verifyAsReadme(fresh, q.raw, q.headers['webhook-signature'] as string)).toBe(true);
        expect(verifyAsReadme(secret, q.raw, q.headers['webhook-signature'] as string)).toBe(false);
      }
      // Deleted: its deliveries go with it, and it hears nothing more.
      await worker.settled();
      const deleted = await t.exec(DeleteEndpoint, { id: endpointId }, { token: admin.token });
      expect(deleted.data?.deleteWebhookEndpoint).toMatchObject({ __typename: 'DeletedWebhookEndpoint', id: endpointId });
      await send(t, admin.token, r, 'after delete');
      worker.kick();
      await worker.settled();
      expect(local.requests).toHaveLength(3);
      expect(await t.app.services.db.webhookDelivery.count({ where: { endpointId } })).toBe(0);
    } finally {
      await local.close();
    }
  }, 90_000);

  it('prunes events past the retention with their log, never one still pending', async () => {
    const local = await Receiver.start();
    try {
      const ws = await workspace(t);
      const { id: endpointId } = await register(t, ws.admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      const r = await room(t, ws.admin.token, ws.id);
      for (const body of ['old', 'old and pending', 'recent']) await send(t, ws.admin.token, r, body);
      await local.until(() => local.succeeded().length === 3, 20_000, 'three deliveries');
      const worker = t.app.services.webhooks;
      await worker.settled();
      const { db } = t.app.services;
      const events = await db.webhookEvent.findMany({ where: { conversationId: r }, orderBy: { sequence: 'asc' } });
      const past = new Date(Date.now() - (t.app.config.WEBHOOK_RETENTION_DAYS + 1) * 86_400_000);
      await db.webhookEvent.updateMany({ where: { id: { in: [events[0]!.id, events[1]!.id] } }, data: { createdAt: past } });
      // The second is due again (a redelivery waiting for its retry): it must be kept.
      await db.webhookDelivery.updateMany({ where: { eventId: events[1]!.id }, data: { status: 'PENDING', nextAttemptAt: new Date(Date.now() + 3_600_000) } });
      expect(await worker.prune()).toBe(1);
      const left = await db.webhookEvent.findMany({ where: { conversationId: r }, orderBy: { sequence: 'asc' }, select: { sequence: true } });
      expect(left.map((e) => e.sequence)).toEqual([2, 3]);
      expect(await db.webhookDelivery.count({ where: { endpointId } })).toBe(2);
      expect(await db.webhookAttempt.count({ where: { delivery: { endpointId } } })).toBe(2);
    } finally {
      await local.close();
    }
  }, 90_000);

  it('delivers what was queued while every instance was stopped, once one starts again', async () => {
    // An instance that serves the API but delivers nothing (WEBHOOK_WORKER=false) queues events…
    const writer = await startTestApp({ ...FAST, WEBHOOK_WORKER: 'false' });
    const local = await Receiver.start();
    let reader: TestApp | undefined;
    try {
      const ws = await workspace(writer);
      const { id: endpointId } = await register(writer, ws.admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      const rooms = await Promise.all([0, 1, 2].map(() => room(writer, ws.admin.token, ws.id)));
      for (let i = 0; i < 5; i++) await Promise.all(rooms.map((r) => send(writer, ws.admin.token, r, `queued ${i}`)));
      expect(await deliveriesIn(writer, endpointId)).toEqual({ PENDING: 15 });
      // …and stops: no instance runs now.
      await writer.stop();
      expect(local.requests).toHaveLength(0);

      reader = await startTestApp(FAST, writer.db);
      await local.until(() => local.succeeded().length === 15, 20_000, 'the queued events delivered');
      await reader.app.services.webhooks.settled();
      expect(local.requests).toHaveLength(15);
      expectInOrderOnce(local.requests);
      expect(await deliveriesIn(reader, endpointId)).toEqual({ SUCCEEDED: 15 });
    } finally {
      await local.close();
      await reader?.stop();
      await writer.close();
    }
  }, 90_000);

  // PGlite is an embedded, single-process database: two apps cannot open one data directory at
  // once, so two instances sharing a database run on the PostgreSQL pass only.
  it.runIf(usingPostgres)('lets two instances sharing PostgreSQL deliver every event exactly once, in order', async () => {
    const writer = await startTestApp({ ...FAST, WEBHOOK_WORKER: 'false' });
    const local = await Receiver.start();
    const instances: TestApp[] = [];
    try {
      const ws = await workspace(writer);
      const { id: endpointId } = await register(writer, ws.admin.token, ws.id, local.url, ['MESSAGE_CREATED']);
      const rooms = await Promise.all([0, 1, 2, 3, 4, 5].map(() => room(writer, ws.admin.token, ws.id)));
      for (let i = 0; i < 10; i++) await Promise.all(rooms.map((r) => send(writer, ws.admin.token, r, `queued ${i}`)));
      await writer.stop();
      local.answer = async () => {
        await new Promise((r) => setTimeout(r, 5));
        return 200;
      };
      // Two instances start together on the queue of 60, and more is written through both meanwhile.
      instances.push(...(await Promise.all([startTestApp(FAST, writer.db), startTestApp(FAST, writer.db)])));
      await Promise.all(
        instances.flatMap((inst, k) => rooms.map(async (r) => {
          for (let i = 0; i < 5; i++) await send(inst, ws.admin.token, r, `live ${k}.${i}`);
        })),
      );
      const total = rooms.length * (10 + 2 * 5);
      await local.until(() => local.requests.length >= total, 60_000, 'every event delivered');
      await Promise.all(instances.map((inst) => inst.app.services.webhooks.settled()));
      expect(local.requests).toHaveLength(total);
      expect(new Set(local.requests.map((r) => r.body.id)).size).toBe(total);
      expectInOrderOnce(local.requests);
      expect(local.maxOpenPerConversation).toBe(1);
      expect(await deliveriesIn(instances[0]!, endpointId)).toEqual({ SUCCEEDED: total });
      const shares = instances.map((inst) => inst.app.services.webhooks.stats.succeeded);
      expect(shares[0]! + shares[1]!).toBe(total);
      console.info(`two instances delivered ${shares.join(' + ')} of ${total} events`);
    } finally {
      await local.close();
      for (const inst of instances) await inst.stop();
      await writer.close();
    }
  }, 90_000);
});

/** Deliveries of an endpoint counted by status, read from the database. */
async function deliveriesIn(t: TestApp, endpointId: string): Promise<Record<string, number>> {
  const rows = await t.app.services.db.webhookDelivery.groupBy({ by: ['status'], where: { endpointId }, _count: { _all: true } });
  return Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
}
