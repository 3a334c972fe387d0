/**
 * Delivery guarantees, over real HTTP and graphql-ws clients (and a raw `ws` client for the slow
 * consumer): in order and exactly once across two server instances, resume by cursor across
 * instances, fan-out that costs no query per subscriber, and slow consumers that are closed with a
 * clear reason without hurting anyone else.
 *
 * Two instances need a shared database and pub/sub: with DATABASE_URL and REDIS_URL set (the CI's
 * second run) instance B is a second server on the same PostgreSQL and Redis. On the embedded run
 * (PGlite, in-memory pub/sub) one process cannot share either, so the same scenarios run with
 * A and B being the same instance.
 */
import { randomUUID } from 'node:crypto';
import { parse, print, type ExecutionResult } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { PubSub, SlowConsumerError } from '../src/pubsub/pubsub.js';
import { isPushable, Outlet, type Pushable } from '../src/pubsub/push.js';
import { RedisFactory } from '../src/redis/connect.js';
import type { ConversationEvent } from '../src/modules/conversations/topics.js';
import { createLogger } from '../src/logger.js';
import { SLOW_CONSUMER_CLOSE_CODE } from '../src/transport/ws.js';
import { useSharedEventExecution, type SharedExecutionStats } from '../src/transport/shared-execution.js';
import { maskUnexpected } from '../src/transport/http.js';
import { pino } from 'pino';
import { graphql } from './gql/index.js';
import { collect, QUIET_BACKGROUND, startTestApp, type TestApp } from './helpers/app.js';
import { usingPostgres, usingRedis } from './helpers/database.js';
import { workspace } from './helpers/fixtures.js';

const CreateRoom = graphql(`
  mutation DeliveryCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Send = graphql(`
  mutation DeliverySend($input: SendMessageInput!) {
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

const Reply = graphql(`
  mutation DeliveryReply($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        body
        side
        clientMessageId
        author {
          id
          displayName
        }
        replyTo {
          id
          seq
          excerpt
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Events = graphql(`
  subscription DeliveryEvents($id: ID!, $after: Int) {
    conversationEvents(conversationId: $id, after: $after) {
      type
      seq
      message {
        id
        seq
        body
        author {
          id
          displayName
        }
      }
    }
  }
`);

const FanOutEvents = graphql(`
  subscription DeliveryFanOutEvents($id: ID!, $after: Int) {
    conversationEvents(conversationId: $id, after: $after) {
      type
      seq
      position
      userId
      emoji
      message {
        id
        seq
        body
        author {
          id
          displayName
        }
        reactions {
          emoji
          count
          firstReactorIds
        }
      }
    }
  }
`);

const AddReaction = graphql(`
  mutation DeliveryAddReaction($messageId: ID!, $emoji: String!) {
    addReaction(messageId: $messageId, emoji: $emoji) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const twoInstances = usingPostgres && usingRedis;
const instances = twoInstances ? 'two instances sharing PostgreSQL and Redis' : 'one instance (embedded run: PGlite and in-memory pub/sub cannot be shared)';

let a: TestApp;
let b: TestApp;
// Statements are counted in windows: background work that queries on timers stays out of them.
const QUIET = QUIET_BACKGROUND;

beforeAll(async () => {
  a = await startTestApp(QUIET);
  b = twoInstances ? await startTestApp(QUIET, a.db) : a;
});
afterAll(async () => {
  if (b && b !== a) await b.stop();
  await a?.close();
});

async function room(t: TestApp, token: string, workspaceId: string, memberIds: string[] = []): Promise<string> {
  const res = await t.exec(CreateRoom, { input: { workspaceId, name: 'Room', memberIds } }, { token });
  const r = res.data!.createRoom;
  if (r.__typename !== 'Room') throw new Error(JSON.stringify(res));
  return r.id;
}

async function send(t: TestApp, token: string, conversationId: string, body: string): Promise<{ id: string; seq: number }> {
  const res = await t.exec(Send, { input: { conversationId, body } }, { token });
  const r = res.data?.sendMessage;
  if (r?.__typename !== 'Message') throw new Error(`send failed: ${JSON.stringify(res)}`);
  return r;
}

function messagesOf(results: ExecutionResult<unknown>[]): { seq: number; id: string; body: string }[] {
  return results.map((r) => {
    if (r.errors) throw new Error(`subscription error: ${JSON.stringify(r.errors)}`);
    const e = (r.data as { conversationEvents: { type: string; message: { seq: number; id: string; body: string } } }).conversationEvents;
    expect(e.type).toBe('MESSAGE_ADDED');
    return e.message;
  });
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe(`delivery across ${instances}`, () => {
  it('a client subscribed on A receives, in order and exactly once, 1,000 messages sent concurrently by 10 clients on B', async () => {
    const roles = Object.fromEntries(range(0, 9).map((i) => [`sender${i}`, 'AGENT' as const]));
    const ws = await workspace(a, roles);
    const senders = Object.values(ws.people);
    const id = await room(a, ws.admin.token, ws.id, senders.map((p) => p.id));
    // Seq 1 arrives by replay (after: 0), which also tells us the subscription is live.
    await send(a, ws.admin.token, id, 'ready');
    const sub = collect(a.ws({ token: ws.admin.token }), Events, { id, after: 0 });
    await sub.next(1);
    const publishedOnA = a.app.services.pubsub.stats.published;

    const perSender = 100;
    const sent = await Promise.all(
      senders.map(async (p, i) => {
        const mine: string[] = [];
        for (let k = 0; k < perSender; k++) {
          const body = `sender${i}-${k}`;
          await send(b, p.token, id, body);
          mine.push(body);
        }
        return mine;
      }),
    );

    const total = 1 + senders.length * perSender;
    const messages = messagesOf(await sub.next(total, 90_000));
    expect(messages.map((m) => m.seq)).toEqual(range(1, total));
    expect(new Set(messages.map((m) => m.id)).size).toBe(total);
    expect(new Set(messages.map((m) => m.body))).toEqual(new Set(['ready', ...sent.flat()]));
    // Each sender's messages arrive in the order it sent them.
    for (const mine of sent) {
      const prefix = mine[0]!.replace(/-0$/, '-');
      expect(messages.map((m) => m.body).filter((body) => body.startsWith(prefix))).toEqual(mine);
    }
    // Nothing more trickles in: exactly once.
    await new Promise((r) => setTimeout(r, 300));
    expect(sub.results).toHaveLength(total);
    expect(sub.errors).toEqual([]);
    // With two instances, every event A delivered was published by B and carried by Redis.
    if (twoInstances) expect(a.app.services.pubsub.stats.published).toBe(publishedOnA);
  }, 180_000);

  it('a subscriber that disconnects and resumes with after: <last seq seen>, alternating A and B, gets every message exactly once while sends continue', async () => {
    const ws = await workspace(a, { bob: 'AGENT', carol: 'AGENT' });
    const id = await room(a, ws.admin.token, ws.id, [ws.people.bob!.id, ws.people.carol!.id]);
    const perSender = 60;
    const senders = [ws.admin, ws.people.carol!];
    const sending = Promise.all(
      senders.map(async (p, i) => {
        for (let k = 0; k < perSender; k++) {
          await send(i % 2 ? b : a, p.token, id, `s${i}-${k}`);
          if (k % 10 === 0) await new Promise((r) => setTimeout(r, 5));
        }
      }),
    );

    const total = senders.length * perSender;
    const seen: { seq: number; id: string }[] = [];
    let after = 0;
    for (let session = 0; seen.length < total; session++) {
      if (session > 20) throw new Error(`still missing messages after ${session} sessions: have ${seen.length}`);
      const instance = session % 2 ? b : a;
      const client = instance.ws({ token: ws.people.bob!.token });
      const sub = collect(client, Events, { id, after });
      const want = Math.min(25, total - seen.length);
      const got = messagesOf(await sub.next(want, 30_000)).slice(0, want);
      sub.dispose();
      await client.dispose();
      seen.push(...got);
      after = seen[seen.length - 1]!.seq;
    }
    await sending;
    expect(seen.map((m) => m.seq)).toEqual(range(1, total));
    expect(new Set(seen.map((m) => m.id)).size).toBe(total);
  }, 120_000);

  it('fan-out costs the same database queries for 1 and for 200 subscribers of one conversation, for messages and for reactions', async () => {
    const ws = await workspace(a);
    const statements = () =>
      a.app.database.stats.statements + (b === a ? 0 : b.app.database.stats.statements);
    const emojis = ['👍', '🎉', ':ship_it:'];

    async function costOfTenMessages(subscribers: number): Promise<{ messages: number; reactions: number }> {
      const id = await room(a, ws.admin.token, ws.id);
      await send(b, ws.admin.token, id, 'warm-up');
      const subs = range(1, subscribers).map(() => collect(a.ws({ token: ws.admin.token }), FanOutEvents, { id, after: 0 }));
      // Every subscriber has replayed seq 1: all are live, and subscribing is paid for.
      await Promise.all(subs.map((s) => s.next(1, 60_000)));
      const before = statements();
      let last = { id: '', seq: 0 };
      for (let i = 0; i < 10; i++) last = await send(b, ws.admin.token, id, `m${i}`);
      const received = await Promise.all(subs.map((s) => s.next(11, 60_000)));
      const cost = statements() - before;
      for (const r of received) expect(messagesOf(r).map((m) => m.seq)).toEqual(range(1, 11));

      // Reactions are changes of the same stream: announced once, carrying the counts.
      const beforeReactions = statements();
      for (const emoji of emojis) {
        const res = await b.exec(AddReaction, { messageId: last.id, emoji }, { token: ws.admin.token });
        expect(res.data?.addReaction.__typename).toBe('Message');
      }
      const withReactions = await Promise.all(subs.map((s) => s.next(11 + emojis.length, 60_000)));
      const reactionCost = statements() - beforeReactions;
      for (const r of withReactions) {
        const events = r.slice(11).map((e) => (e.data as { conversationEvents: { type: string; emoji: string; position: number; message: { reactions: unknown[] } } }).conversationEvents);
        expect(events.map((e) => [e.type, e.emoji])).toEqual(emojis.map((e) => ['REACTION_ADDED', e]));
        expect(events.map((e) => e.position)).toEqual([12, 13, 14]);
        expect(events.at(-1)!.message.reactions).toEqual(emojis.map((emoji) => ({ emoji, count: 1, firstReactorIds: [ws.admin.id] })));
      }
      for (const s of subs) s.dispose();
      return { messages: cost, reactions: reactionCost };
    }

    const one = await costOfTenMessages(1);
    const executions = { ...a.app.sharedExecution };
    const many = await costOfTenMessages(200);
    expect(one.messages).toBeGreaterThan(0);
    expect(many.messages).toBe(one.messages);
    expect(one.reactions).toBeGreaterThan(0);
    expect(many.reactions).toBe(one.reactions);
    // Nor per-subscriber GraphQL execution: each live event was executed once for all 200.
    expect(a.app.sharedExecution.reused - executions.reused).toBeGreaterThanOrEqual((10 + emojis.length) * 199);
    expect(a.app.sharedExecution.own).toBe(executions.own);
  }, 180_000);

  it('releases a disconnected subscriber’s pub/sub subscription at once, even in a quiet conversation', async () => {
    const ws = await workspace(a);
    const id = await room(a, ws.admin.token, ws.id);
    await send(a, ws.admin.token, id, 'hello');
    const before = a.app.services.pubsub.stats.subscribers;
    const client = a.ws({ token: ws.admin.token });
    const subs = range(1, 5).map(() => collect(client, Events, { id, after: 0 }));
    await Promise.all(subs.map((s) => s.next(1)));
    expect(a.app.services.pubsub.stats.subscribers).toBe(before + 5);
    subs[0]!.dispose();
    await until(() => a.app.services.pubsub.stats.subscribers === before + 4, 'the completed subscription to be released', 5_000);
    await client.dispose();
    await until(() => a.app.services.pubsub.stats.subscribers === before, 'the closed socket’s subscriptions to be released', 5_000);
  });
});

describe('the append statement (one statement, batched per conversation)', () => {
  it('keeps replies, the author’s read mark, staff joining by role, and leaves no hole when a reply is refused', async () => {
    const ws = await workspace(a, { bob: 'AGENT', dan: 'AGENT' });
    const id = await room(a, ws.admin.token, ws.id, [ws.people.bob!.id]);
    const other = await room(a, ws.admin.token, ws.id);
    const first = await send(a, ws.people.bob!.token, id, 'first');
    const elsewhere = await send(a, ws.admin.token, other, 'elsewhere');

    const reply = await a.exec(
      Reply,
      { input: { conversationId: id, body: 'answer', replyToId: first.id, side: 'RIGHT', clientMessageId: 'k1' } },
      { token: ws.admin.token },
    );
    expect(reply.data!.sendMessage).toMatchObject({
      __typename: 'Message',
      seq: 2,
      body: 'answer',
      side: 'RIGHT',
      clientMessageId: 'k1',
      author: { id: ws.admin.id },
      replyTo: { id: first.id, seq: 1, excerpt: 'first' },
    });
    const refused = await a.exec(Reply, { input: { conversationId: id, body: 'x', replyToId: elsewhere.id } }, { token: ws.admin.token });
    expect(refused.data!.sendMessage).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });

    // Dan reaches the room by role: sending makes him a member who has read his own message.
    const byDan = await send(a, ws.people.dan!.token, id, 'joining');
    expect(byDan.seq).toBe(3);
    const members = await a.app.services.db.conversationMember.findMany({ where: { conversationId: id }, orderBy: { joinedAt: 'asc' } });
    expect(Object.fromEntries(members.map((m) => [m.userId, m.lastReadSeq]))).toEqual({
      [ws.admin.id]: 2,
      [ws.people.bob!.id]: 1,
      [ws.people.dan!.id]: 3,
    });
    const conversation = await a.app.services.db.conversation.findUniqueOrThrow({ where: { id } });
    expect(conversation.lastSeq).toBe(3);
    const stored = await a.app.services.db.message.findMany({ where: { conversationId: id }, orderBy: { seq: 'asc' } });
    expect(stored.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(conversation.lastMessageAt?.toISOString()).toBe(stored[2]!.createdAt.toISOString());
  });

  it('returns the first message to concurrent appends with one clientMessageId, through the unique index', async () => {
    const ws = await workspace(a);
    const id = await room(a, ws.admin.token, ws.id);
    // Called directly, all five look the key up before any inserts: four inserts hit the index.
    const input = { conversationId: id, authorId: ws.admin.id, body: 'once', clientMessageId: 'same-key' };
    const results = await Promise.all(Array.from({ length: 5 }, () => a.app.services.pipeline.append(a.app.services, input)));
    expect(new Set(results.map((r) => r.record.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await send(a, ws.admin.token, id, 'next')).seq).toBe(2);
  });

  it('writes concurrent appends together in seq order, and one refused in a batch fails alone', async () => {
    const ws = await workspace(a, { bob: 'AGENT' });
    const id = await room(a, ws.admin.token, ws.id, [ws.people.bob!.id]);
    const other = await room(a, ws.admin.token, ws.id);
    const elsewhere = await send(a, ws.admin.token, other, 'elsewhere');
    // What one message written alone costs, guards of other modules (support's claim check)
    // included: the yardstick for the batch below.
    const loneBefore = a.app.database.stats.statements;
    await a.app.services.pipeline.append(a.app.services, { conversationId: other, authorId: ws.admin.id, body: 'alone' });
    const lone = a.app.database.stats.statements - loneBefore;
    const statementsBefore = a.app.database.stats.statements;
    const author = (i: number) => (i % 2 ? ws.people.bob!.id : ws.admin.id);
    const settled = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        a.app.services.pipeline.append(a.app.services, {
          conversationId: id,
          authorId: author(i),
          body: `m${i}`,
          replyToId: i === 7 ? elsewhere.id : null,
        }),
      ),
    );
    expect(settled[7]).toMatchObject({ status: 'rejected', reason: { code: 'NOT_FOUND' } });
    const written = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.record] : []));
    expect(written.map((m) => m.seq).sort((x, y) => x - y)).toEqual(range(1, 19));
    // In the order they were called: the first alone, the rest batched.
    expect(written.map((m) => m.body)).toEqual(range(0, 19).filter((i) => i !== 7).map((i) => `m${i}`));
    expect(written.map((m) => m.seq)).toEqual(range(1, 19));
    // The refused batch is written again one by one: what that costs on top of 19 lone writes is
    // the failed statement, the first message's own, and the lookup naming the error.
    const batched = a.app.database.stats.statements - statementsBefore;
    expect(batched).toBeLessThanOrEqual(19 * lone + 3);
    // With nothing refused, 20 at once cost far fewer statements than 20 written one by one (a
    // lone one is a single statement, guard included: only batching can do better).
    const cleanBefore = a.app.database.stats.statements;
    await Promise.all(range(0, 19).map((i) => a.app.services.pipeline.append(a.app.services, { conversationId: other, authorId: ws.admin.id, body: `c${i}` })));
    expect(a.app.database.stats.statements - cleanBefore).toBeLessThan(20 * lone);
    const members = await a.app.services.db.conversationMember.findMany({ where: { conversationId: id } });
    expect(Object.fromEntries(members.map((m) => [m.userId, m.lastReadSeq]))).toEqual({
      [ws.admin.id]: written.filter((m) => m.authorId === ws.admin.id).at(-1)!.seq,
      [ws.people.bob!.id]: written.filter((m) => m.authorId === ws.people.bob!.id).at(-1)!.seq,
    });
    expect((await a.app.services.db.conversation.findUniqueOrThrow({ where: { id } })).lastSeq).toBe(19);
  });
});

describe('the append statement with attachments (the same statement, no path of its own)', () => {
  /** Pending attachments (stored, not yet linked) of a conversation, stored last to first. */
  async function pending(conversationId: string, uploaderId: string, count: number): Promise<string[]> {
    const rows = range(1, count).map((n) => ({
      id: randomUUID(),
      conversationId,
      uploaderId,
      position: count - n,
      name: `f${n}.txt`,
      size: n,
      contentType: 'text/plain',
      sha256: '0'.repeat(64),
    }));
    await a.app.services.db.attachment.createMany({ data: rows });
    return rows.map((r) => r.id);
  }

  it('links the files in position order, tells the webhook in the same statement, and costs at most a transaction more than text', async () => {
    const ws = await workspace(a);
    const id = await room(a, ws.admin.token, ws.id);
    const db = a.app.services.db;
    // An endpoint that wants message.created: the outbox is written by the same statement. Its
    // host never resolves, and the worker polls far apart here.
    const endpoint = await db.webhookEndpoint.create({
      data: { workspaceId: ws.id, url: 'https://hooks.example.invalid/', secret: 'secret', eventTypes: ['message.created'] },
    });
    try {
      const textBefore = a.app.database.stats.statements;
      await a.app.services.pipeline.append(a.app.services, { conversationId: id, authorId: ws.admin.id, body: 'text' });
      const textCost = a.app.database.stats.statements - textBefore;

      const files = await pending(id, ws.admin.id, 3);
      const before = a.app.database.stats.statements;
      const { record, created } = await a.app.services.pipeline.append(a.app.services, {
        conversationId: id,
        authorId: ws.admin.id,
        body: '',
        kind: 'FILE',
        clientMessageId: 'files-1',
        attachmentIds: files,
      });
      const cost = a.app.database.stats.statements - before;
      expect(created).toBe(true);
      expect(record).toMatchObject({ seq: 2, position: 2, publicSeq: 2, kind: 'FILE', body: '' });
      // Stored last to first: position orders them, not the order given. (This record is what
      // the MESSAGE_ADDED event carries.)
      expect(record.attachments.map((f) => f.name)).toEqual(['f3.txt', 'f2.txt', 'f1.txt']);
      expect(record.attachments[0]).toEqual({ id: files[2], name: 'f3.txt', size: 3, contentType: 'text/plain', sha256: '0'.repeat(64), width: null, height: null });
      // One statement as for text; on PostgreSQL the transaction's COMMIT (and BEGIN) on top.
      expect(cost).toBeLessThanOrEqual(textCost + 2);

      const linked = await db.attachment.findMany({ where: { id: { in: files } } });
      expect(linked.map((f) => f.messageId)).toEqual([record.id, record.id, record.id]);
      const events = await db.webhookEvent.findMany({ where: { conversationId: id }, orderBy: { sequence: 'asc' } });
      expect(events.map((e) => e.sequence)).toEqual([1, 2]);
      expect((events[1]!.payload as { message: { id: string; attachments: unknown } }).message).toMatchObject({
        id: record.id,
        attachments: [3, 2, 1].map((n) => ({ id: files[n - 1], name: `f${n}.txt`, contentType: 'text/plain', size: n })),
      });

      // A retry with the key returns the message, and links nothing more.
      const again = await pending(id, ws.admin.id, 1);
      const retry = await a.app.services.pipeline.append(a.app.services, {
        conversationId: id,
        authorId: ws.admin.id,
        body: '',
        kind: 'FILE',
        clientMessageId: 'files-1',
        attachmentIds: again,
      });
      expect(retry).toMatchObject({ created: false, record: { id: record.id } });
      expect((await db.attachment.findUniqueOrThrow({ where: { id: again[0]! } })).messageId).toBeNull();
    } finally {
      await db.webhookEndpoint.delete({ where: { id: endpoint.id } });
    }
  });

  it('refuses a file that is not a pending upload of the conversation, writing nothing, alone or in a batch', async () => {
    const ws = await workspace(a, { bob: 'AGENT' });
    const id = await room(a, ws.admin.token, ws.id, [ws.people.bob!.id]);
    const other = await room(a, ws.admin.token, ws.id);
    const db = a.app.services.db;
    const first = await a.app.services.pipeline.append(a.app.services, {
      conversationId: id,
      authorId: ws.admin.id,
      body: 'linked',
      attachmentIds: await pending(id, ws.admin.id, 1),
    });
    const linkedId = first.record.attachments[0]!.id;
    const elsewhere = await pending(other, ws.admin.id, 1);
    const mine = await pending(id, ws.admin.id, 2);
    const append = (attachmentIds: string[]) =>
      a.app.services.pipeline.append(a.app.services, { conversationId: id, authorId: ws.admin.id, body: 'files', attachmentIds });

    for (const bad of [elsewhere[0]!, linkedId, randomUUID()]) {
      // With a good file beside it: the good one is not linked either.
      await expect(append([mine[0]!, bad])).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'An attachment is not a pending upload of this conversation.' });
    }
    expect((await db.conversation.findUniqueOrThrow({ where: { id } })).lastSeq).toBe(1);
    expect(await db.attachment.count({ where: { id: { in: [...mine, ...elsewhere] }, messageId: null } })).toBe(3);
    expect(await db.message.count({ where: { conversationId: id } })).toBe(1);

    // Concurrent appends are written together; the refused one fails alone and leaves no hole.
    const settled = await Promise.allSettled([
      a.app.services.pipeline.append(a.app.services, { conversationId: id, authorId: ws.people.bob!.id, body: 'b1' }),
      append([mine[0]!]),
      append([elsewhere[0]!]),
      append([mine[1]!]),
      a.app.services.pipeline.append(a.app.services, { conversationId: id, authorId: ws.people.bob!.id, body: 'b2' }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(settled[2]).toMatchObject({ reason: { code: 'NOT_FOUND' } });
    const written = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.record] : []));
    expect(written.map((m) => m.seq)).toEqual([2, 3, 4, 5]);
    expect(written.map((m) => m.attachments.map((f) => f.id))).toEqual([[], [mine[0]], [mine[1]], []]);
    expect((await db.attachment.findUniqueOrThrow({ where: { id: elsewhere[0]! } })).messageId).toBeNull();
    expect((await db.conversation.findUniqueOrThrow({ where: { id } })).lastSeq).toBe(5);
  });
});

describe('shared execution of subscription events', () => {
  const events = [{ n: 1 }, { n: 2 }];
  const schema = createSchema<{ viewer: string }>({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Event { n: Int! mine: String! boom: String }
      type Subscription { events: Event! }
    `,
    resolvers: {
      Subscription: {
        events: {
          // Every subscriber gets the very same event objects, as from one pub/sub channel.
          subscribe: async function* () {
            yield* events;
          },
          resolve: (e: unknown) => e,
        },
      },
      Event: {
        mine: (e: { n: number }, _args: unknown, ctx: { viewer: string }) => `${ctx.viewer}:${e.n}`,
        boom: () => {
          throw new Error('relation "secret_table" does not exist');
        },
      },
    },
  });

  const logged: Array<Record<string, unknown>> = [];
  const mask = maskUnexpected(pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }));

  async function run(stats: SharedExecutionStats, query: string, viewers: string[]) {
    const yoga = createYoga({ schema, plugins: [useSharedEventExecution(mask, stats)] });
    const { subscribe } = yoga.getEnveloped({});
    const document = parse(query);
    return Promise.all(
      viewers.map(async (viewer) => {
        const stream = (await subscribe({ schema, document, contextValue: { viewer } })) as AsyncIterable<ExecutionResult>;
        const got: unknown[] = [];
        for await (const r of stream) got.push(r.errors ? { data: r.data, errors: r.errors.map((e) => e.toJSON()) } : r.data);
        return got;
      }),
    );
  }

  it('executes an event once for every subscriber of the same operation', async () => {
    const stats = { shared: 0, reused: 0, own: 0 };
    const got = await run(stats, 'subscription { events { n } }', ['a', 'b', 'c']);
    expect(got).toEqual(Array(3).fill([{ events: { n: 1 } }, { events: { n: 2 } }]));
    expect(stats).toEqual({ shared: 2, reused: 4, own: 0 });
  });

  it('executes per subscriber, with its own context, an operation whose resolvers read the context', async () => {
    const stats = { shared: 0, reused: 0, own: 0 };
    const got = await run(stats, 'subscription { events { n mine } }', ['a', 'b']);
    expect(got).toEqual([
      [{ events: { n: 1, mine: 'a:1' } }, { events: { n: 2, mine: 'a:2' } }],
      [{ events: { n: 1, mine: 'b:1' } }, { events: { n: 2, mine: 'b:2' } }],
    ]);
    expect(stats.shared).toBe(0);
    expect(stats.own).toBe(4);
  });

  it('hands on the result of a pushed event in the call that pushed it, for every subscriber, the first included', async () => {
    /** A source that pushes what the test gives it, as a conversation's stream does. */
    class Manual extends Outlet<unknown> {
      stopped = false;
      protected hold(): void {}
      protected release(): void {}
      protected stop(): void {
        this.stopped = true;
      }
      give(event: unknown): void {
        this.emit(event);
      }
    }
    const sources: Manual[] = [];
    const pushSchema = createSchema<{ viewer: string }>({
      typeDefs: /* GraphQL */ `
        type Query { ok: Boolean }
        type Event { n: Int! }
        type Subscription { events: Event! }
      `,
      resolvers: {
        Subscription: {
          events: {
            subscribe: () => {
              const source = new Manual();
              sources.push(source);
              return source;
            },
            resolve: (e: unknown) => e,
          },
        },
      },
    });
    const stats = { shared: 0, reused: 0, own: 0 };
    // As the app's Yoga: its own masking off (it would wrap every stream in an iterator of its own).
    const yoga = createYoga({ schema: pushSchema, maskedErrors: false, plugins: [useSharedEventExecution(mask, stats)] });
    const { subscribe } = yoga.getEnveloped({});
    const document = parse('subscription { events { n } }');
    const got: unknown[][] = [];
    const streams: Pushable<ExecutionResult>[] = [];
    for (const viewer of ['a', 'b', 'c']) {
      const stream = (await subscribe({ schema: pushSchema, document, contextValue: { viewer } })) as AsyncIterableIterator<ExecutionResult>;
      expect(isPushable(stream)).toBe(true);
      const mine: unknown[] = [];
      got.push(mine);
      (stream as Pushable<ExecutionResult>).listen({ push: (r) => mine.push(r.data), end: () => mine.push('end') });
      streams.push(stream as Pushable<ExecutionResult>);
    }
    const event = { n: 7 };
    for (const source of sources) source.give(event);
    // No await since: every result is already out.
    expect(got).toEqual(Array(3).fill([{ events: { n: 7 } }]));
    expect(stats).toEqual({ shared: 1, reused: 2, own: 0 });
    // A paused consumer gets what came meanwhile when it resumes, in order.
    streams[0]!.pause();
    sources[0]!.give({ n: 8 });
    sources[0]!.give({ n: 9 });
    expect(got[0]).toHaveLength(1);
    streams[0]!.resume();
    expect(got[0]).toEqual([{ events: { n: 7 } }, { events: { n: 8 } }, { events: { n: 9 } }]);
    // Leaving stops the source at once.
    await streams[1]!.return?.();
    expect(sources[1]!.stopped).toBe(true);
  });

  it('masks what an event’s execution fails with where it is executed: once per shared execution, logged with its stack, nothing leaked', async () => {
    const stats = { shared: 0, reused: 0, own: 0 };
    logged.length = 0;
    const got = await run(stats, 'subscription { events { n boom } }', ['a', 'b', 'c']);
    const masked = { message: 'Unexpected error.', path: ['events', 'boom'], extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    expect(got).toEqual(Array(3).fill([1, 2].map((n) => ({ data: { events: { n, boom: null } }, errors: [expect.objectContaining(masked)] }))));
    expect(JSON.stringify(got)).not.toContain('secret_table');
    expect(stats).toEqual({ shared: 2, reused: 4, own: 0 });
    // One line per failed execution (two events), not one per subscriber.
    expect(logged.filter((l) => l.msg === 'unexpected error')).toHaveLength(2);
  });
});

describe('pub/sub queues', () => {
  it('ends a subscriber that never reads at its limit, once, without making publish throw', async () => {
    const logger = createLogger('silent');
    const redisUrl = process.env.REDIS_URL;
    const pubsub = new PubSub({ queueLimit: 10, logger, redis: redisUrl ? new RedisFactory({ url: redisUrl, name: 'delivery-test', logger }) : undefined });
    try {
      const key = `slow-${Date.now()}-${Math.random()}`;
      let overflows = 0;
      let connectionOverflows = 0;
      const view = pubsub.withOverflowHandler(() => connectionOverflows++);
      const slow = view.subscribe('conversation', key, { onOverflow: () => overflows++ });
      const healthy = pubsub.subscribe('conversation', key);
      // Subscribing completes on the first next(); the healthy one reads everything.
      const received: number[] = [];
      const reading = (async () => {
        while (received.length < 100) received.push((await healthy.next()).value.seq);
      })();
      await Promise.race([slow.next(), new Promise((r) => setTimeout(r, 200))]);
      expect(pubsub.stats.subscribers).toBe(2);
      const event = (seq: number): ConversationEvent => ({ type: 'MESSAGE_ADDED', conversationId: key, seq, at: new Date().toISOString() });
      for (let seq = 1; seq <= 100; seq++) await expect(pubsub.publish('conversation', key, event(seq))).resolves.toBeUndefined();
      await reading;
      expect(received).toEqual(range(1, 100));
      expect(overflows).toBe(1);
      expect(connectionOverflows).toBe(1);
      expect(pubsub.stats.overflows).toBe(1);
      // The slow one got its first event (the pending next() above), then fell 10 behind.
      await expect(slow.next()).rejects.toBeInstanceOf(SlowConsumerError);
      await expect(slow.next()).resolves.toEqual({ value: undefined, done: true });
      expect(pubsub.stats.subscribers).toBe(1);
      await healthy.return?.();
      expect(pubsub.stats.subscribers).toBe(0);
    } finally {
      await pubsub.close();
    }
  });
});

describe('pub/sub listeners (the push side)', () => {
  it('hands each event over in the call that publishes it; while paused, events wait in order up to the limit, then it ends as a slow consumer', async () => {
    const logger = createLogger('silent');
    const redisUrl = process.env.REDIS_URL;
    const pubsub = new PubSub({ queueLimit: 5, logger, redis: redisUrl ? new RedisFactory({ url: redisUrl, name: 'delivery-listen', logger }) : undefined });
    try {
      const key = `listen-${Date.now()}-${Math.random()}`;
      let connectionOverflows = 0;
      let overflows = 0;
      const got: number[] = [];
      const ended: unknown[] = [];
      const view = pubsub.withOverflowHandler(() => connectionOverflows++);
      const listening = view.listen([['conversation', key]], { event: (e) => got.push(e.seq), end: (error) => ended.push(error) }, { onOverflow: () => overflows++ });
      await listening.ready;
      expect(pubsub.stats.subscribers).toBe(1);
      const event = (seq: number): ConversationEvent => ({ type: 'MESSAGE_ADDED', conversationId: key, seq, at: new Date().toISOString() });
      void pubsub.publish('conversation', key, event(1));
      // Already there: no turn of the event loop between the publish and the listener.
      expect(got).toEqual([1]);
      listening.pause();
      listening.pause();
      for (let seq = 2; seq <= 4; seq++) void pubsub.publish('conversation', key, event(seq));
      expect(got).toEqual([1]);
      listening.resume();
      expect(got).toEqual([1]);
      listening.resume();
      expect(got).toEqual([1, 2, 3, 4]);
      listening.pause();
      // Five wait; the sixth overflows the queue.
      for (let seq = 5; seq <= 10; seq++) void pubsub.publish('conversation', key, event(seq));
      expect(ended).toHaveLength(1);
      expect(ended[0]).toBeInstanceOf(SlowConsumerError);
      expect([overflows, connectionOverflows, pubsub.stats.overflows]).toEqual([1, 1, 1]);
      expect(pubsub.stats.subscribers).toBe(0);
      listening.resume();
      expect(got).toEqual([1, 2, 3, 4]);
    } finally {
      await pubsub.close();
    }
  });
});

describe.runIf(process.env.REDIS_URL)('pub/sub between instances (Redis)', () => {
  it('closing its own Redis connections (a clean stop) logs no outage; Redis closing them does', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const factory = new RedisFactory({ url: process.env.REDIS_URL!, name: 'delivery-close', logger });
    const [state, pubsub] = [factory.state(), factory.pubsub(logger)];
    await Promise.all([state.ready(5_000), pubsub.ready(5_000)]);
    expect([state.client.status, pubsub.publisher.status, pubsub.subscriber.status]).toEqual(['ready', 'ready', 'ready']);
    await Promise.all([state.close(), pubsub.close()]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines.map((l) => l.msg)).toEqual([]);

    // A connection Redis closes is still an outage: the flag above silences the instance's own
    // close only.
    const other = new RedisFactory({ url: process.env.REDIS_URL!, name: 'delivery-close-killed', logger }).state();
    try {
      await other.ready(5_000);
      const admin = new Redis(process.env.REDIS_URL!);
      try {
        const id = String(await other.client.client('ID'));
        await admin.client('KILL', 'ID', id);
      } finally {
        admin.disconnect();
      }
      await vi.waitFor(() => expect(lines.map((l) => l.msg)).toContain('Redis (state) unavailable: outage began'), { timeout: 5_000 });
    } finally {
      await other.close();
    }
  });

  it('hands an instance its own events at publish, without the Redis round trip, and drops their echo; other instances get them through Redis, once', async () => {
    const logger = createLogger('silent');
    const make = (name: string) => new PubSub({ queueLimit: 100, logger, redis: new RedisFactory({ url: process.env.REDIS_URL!, name, logger }) });
    const [here, there] = [make('delivery-test-a'), make('delivery-test-b')];
    try {
      const key = `local-${Date.now()}-${Math.random()}`;
      const mine = here.subscribe('conversation', key);
      const theirs = there.subscribe('conversation', key);
      await Promise.all([here.whenSubscribed(mine), there.whenSubscribed(theirs)]);
      const event = (seq: number): ConversationEvent => ({ type: 'MESSAGE_ADDED', conversationId: key, seq, at: new Date().toISOString() });
      for (let seq = 1; seq <= 3; seq++) {
        const before = here.stats.deliveries;
        const publishing = here.publish('conversation', key, event(seq));
        // Delivered before publish() returned: no Redis hop for this instance's own subscriber.
        expect(here.stats.deliveries).toBe(before + 1);
        await publishing;
      }
      const read = async (it: AsyncIterator<ConversationEvent>) => [(await it.next()).value.seq, (await it.next()).value.seq, (await it.next()).value.seq];
      expect(await read(theirs)).toEqual([1, 2, 3]);
      expect(await read(mine)).toEqual([1, 2, 3]);
      // Redis' echoes of the three reached `here` before the answer to a later PING: all dropped.
      await here.ping();
      expect(here.stats.deliveries).toBe(3);
      expect(there.stats.deliveries).toBe(3);
      await Promise.all([mine.return?.(), theirs.return?.()]);
    } finally {
      await Promise.all([here.close(), there.close()]);
    }
  });
});

/** A graphql-transport-ws client on a raw `ws` socket, so that the test can stop reading TCP. */
async function rawSubscriber(t: TestApp, token: string, id: string, subscriptions: number) {
  const socket = new WebSocket(t.wsUrl, 'graphql-transport-ws');
  const seqs = new Map<string, number[]>();
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  let acked!: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  socket.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; id?: string; payload?: { data?: { conversationEvents?: { seq: number } } } };
    if (msg.type === 'connection_ack') acked();
    if (msg.type === 'next' && msg.payload?.data?.conversationEvents) seqs.get(msg.id!)!.push(msg.payload.data.conversationEvents.seq);
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await ack;
  for (let i = 0; i < subscriptions; i++) {
    seqs.set(`s${i}`, []);
    socket.send(JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query: print(Events), variables: { id, after: 0 } } }));
  }
  return { socket, seqs, closed };
}

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('slow consumers', () => {
  const big = (n: number) => `${n} ${'x'.repeat(9_000)}`;

  async function scenario(t: TestApp, stopSending: (sent: number) => boolean) {
    const ws = await workspace(t);
    const id = await room(t, ws.admin.token, ws.id);
    await send(t, ws.admin.token, id, 'ready');
    const healthy = collect(t.ws({ token: ws.admin.token }), Events, { id, after: 0 });
    const raw = await rawSubscriber(t, ws.admin.token, id, 8);
    await healthy.next(1);
    await until(() => [...raw.seqs.values()].every((s) => s.length === 1), 'the raw subscriptions to replay seq 1');

    // Stop reading the socket: TCP buffers fill, then what the server queues for it.
    raw.socket.pause();
    let seq = 1;
    while (!stopSending(seq - 1)) seq = (await send(t, ws.admin.token, id, big(seq + 1))).seq;
    // The others keep going while it is stalled. (Keep the stall short: graphql-ws' keep-alive
    // would cut a socket that answers no ping for 12 s, with 1006 instead of our 4008.)
    for (let i = 0; i < 5; i++) seq = (await send(t, ws.admin.token, id, big(seq + 1))).seq;
    const delivered = messagesOf(await healthy.next(seq, 60_000));
    expect(delivered.map((m) => m.seq)).toEqual(range(1, seq));

    // Reading again, the client gets what was in flight, then the server's close frame.
    raw.socket.resume();
    const closed = await raw.closed;
    expect(closed.code).toBe(SLOW_CONSUMER_CLOSE_CODE);
    expect(closed.reason).toMatch(/^Slow consumer: fell too far behind\. Reconnect and resubscribe with after: <last seq seen>/);
    await until(() => t.app.services.pubsub.stats.subscribers === 1, 'the slow socket’s subscriptions to end');

    // Each raw subscription saw an in-order prefix; resuming after its end yields the rest once.
    const prefix = raw.seqs.get('s0')!;
    expect(prefix).toEqual(range(1, prefix.length));
    expect(prefix.length).toBeLessThan(seq);
    const resumed = collect(t.ws({ token: ws.admin.token }), Events, { id, after: prefix.length });
    const rest = messagesOf(await resumed.next(seq - prefix.length, 30_000));
    expect([...prefix, ...rest.map((m) => m.seq)]).toEqual(range(1, seq));
    await new Promise((r) => setTimeout(r, 200));
    expect(resumed.results).toHaveLength(seq - prefix.length);
  }

  it('closes a subscriber whose queue overflows with 4008 and a reason; others get everything; it resumes by cursor', async () => {
    const t = await startTestApp({ SUBSCRIPTION_QUEUE_LIMIT: '20' });
    try {
      const overflowsBefore = t.app.services.pubsub.stats.overflows;
      // Send until a queue overflows: how much fits in the kernel's TCP buffers first varies.
      await scenario(t, (sent) => t.app.services.pubsub.stats.overflows > overflowsBefore || sent > 3000);
      expect(t.app.services.pubsub.stats.overflows).toBeGreaterThan(overflowsBefore);
    } finally {
      await t.close();
    }
  }, 180_000);

  it('closes a socket whose unsent bytes pass WS_MAX_BUFFERED_BYTES with 4008, even when no queue is full', async () => {
    const t = await startTestApp({ WS_MAX_BUFFERED_BYTES: String(64 * 1024), SUBSCRIPTION_QUEUE_LIMIT: '100000' });
    try {
      // 8 subscriptions × ~9 KB a message, 120 messages: ~8.6 MB, past what the kernel buffers
      // on loopback (~4.5 MB here); beyond that the bytes waiting in the server pass 64 KiB
      // within a message or two.
      await scenario(t, (sent) => sent >= 120);
      expect(t.app.services.pubsub.stats.overflows).toBe(0);
    } finally {
      await t.close();
    }
  }, 180_000);
});
