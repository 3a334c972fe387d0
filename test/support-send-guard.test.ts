/**
 * The support guard's condition inside the append statement (pipeline.ts, claims.ts
 * `refuseWhileClaimed.clear`): a send to a conversation with nothing to guard (a room, an open
 * ticket no one claims) is ONE statement, the guard's read runs only when that condition fails,
 * and a claim taken meanwhile refuses the very next send, whatever this instance found before.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from './gql/index.js';
import { QUIET_BACKGROUND, startTestApp, until, wsOnce, type TestApp } from './helpers/app.js';
import { workspace } from './helpers/fixtures.js';
import { closeTicket, openTicket, product } from './helpers/support.js';
import { parseId } from '../src/graphql/ids.js';
import { MessagePipeline, type AppendInput } from '../src/modules/conversations/pipeline.js';
import { refuseWhileClaimed } from '../src/modules/support/claims.js';

const CreateRoom = graphql(`
  mutation SendGuardCreateRoom($input: CreateRoomInput!) {
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
  mutation SendGuardSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
      }
      ... on ClaimHeldError {
        holderId
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Claim = graphql(`
  mutation SendGuardClaim($conversationId: ID!) {
    claimConversation(conversationId: $conversationId) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

const Release = graphql(`
  mutation SendGuardRelease($conversationId: ID!) {
    releaseClaim(conversationId: $conversationId) {
      __typename
      ... on Error {
        code
        message
      }
    }
  }
`);

/** How long the test's own pipeline remembers a conversation whose condition failed. */
const REMEMBER_MS = 300;

let t: TestApp;
const clients: Client[] = [];
beforeAll(async () => {
  // Statements are counted in windows: background work that queries on timers stays out of them.
  t = await startTestApp(QUIET_BACKGROUND);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});
afterAll(async () => {
  await t?.close();
});

/** A graphql-ws connection that stays open: its viewer and write access are kept across sends. */
async function connect(token: string): Promise<Client> {
  let connected = false;
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${token}` },
    on: { connected: () => void (connected = true) },
  });
  clients.push(client);
  await until(() => connected);
  return client;
}

/** Statements the app's database ran for `op`. */
async function statements<T>(op: () => Promise<T>): Promise<{ value: T; cost: number }> {
  const before = t.app.database.stats.statements;
  const value = await op();
  return { value, cost: t.app.database.stats.statements - before };
}

/**
 * A pipeline with the app's guard and no listeners (the support desk's urgency listener reads
 * and writes after every ticket message): what the write itself costs, guard included.
 */
function guardedOnly(): MessagePipeline {
  return new MessagePipeline({ guards: [refuseWhileClaimed], appended: [], changed: [] }, { rememberGuardedMs: REMEMBER_MS });
}

async function sendOverWs(client: Client, conversationId: string, body: string, visibility?: 'INTERNAL') {
  const result: ExecutionResult<{ sendMessage: { __typename: string } }> = await wsOnce(
    client,
    Send as TypedDocumentNode<{ sendMessage: { __typename: string } }, unknown>,
    { input: { conversationId, body, visibility } },
  );
  expect(result.data?.sendMessage.__typename).toBe('Message');
}

describe('the support guard in the append statement', () => {
  it('a send to a room, and to an open ticket no one claims, is exactly one statement', async () => {
    const ws = await workspace(t, { ann: 'AGENT', cus: 'CLIENT' });
    const [ann, cus] = [ws.people.ann!, ws.people.cus!];
    const created = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Lobby', memberIds: [ann.id] } }, { token: ws.admin.token })).data!.createRoom;
    if (created.__typename !== 'Room') throw new Error(JSON.stringify(created));
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'help' });

    // Over one graphql-ws connection, which keeps its viewer and write access: the first sends
    // read them (the instance's standing subscription may still be confirming), then a send to
    // the room is its write alone.
    const client = await connect(ann.token);
    const cost = async (conversationId: string, body: string, visibility?: 'INTERNAL') =>
      (await statements(() => sendOverWs(client, conversationId, body, visibility))).cost;
    await until(async () => (await cost(created.id, 'warm')) === (await cost(created.id, 'warm again')));
    expect(await cost(created.id, 'one')).toBe(1);
    expect(await cost(created.id, 'two')).toBe(1);
    // A staff note in the open ticket (no listener acts on notes): one statement too, once this
    // connection's access to the ticket is kept.
    await until(async () => (await cost(ticket.id, 'note', 'INTERNAL')) === (await cost(ticket.id, 'note again', 'INTERNAL')));
    expect(await cost(ticket.id, 'a note', 'INTERNAL')).toBe(1);

    // A reply to the customer, and the customer's message: the write, guard included, is one
    // statement each.
    const pipeline = guardedOnly();
    const conversationId = parseId(ticket.id, 'Conversation');
    for (const authorId of [ann.id, cus.id]) {
      const { value, cost: written } = await statements(() => pipeline.append(t.app.services, { conversationId, authorId, body: 'public' }));
      expect(value.created).toBe(true);
      expect(written).toBe(1);
    }
  });

  it('a claim taken by another agent refuses the very next send of a third, though this instance had just found the ticket clear, and so does closing it; seqs stay gapless', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cal: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cal, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cal!, ws.people.cus!];
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'help' });
    const conversationId = parseId(ticket.id, 'Conversation');
    const pipeline = guardedOnly();
    const input = (authorId: string, body: string): AppendInput => ({ conversationId, authorId, body });
    const stored = () => t.app.services.db.message.findMany({ where: { conversationId }, orderBy: { seq: 'asc' }, select: { seq: true, body: true } });

    // Clear: ben's and cal's answers are one statement each, in this pipeline and the app's.
    expect((await statements(() => pipeline.append(t.app.services, input(ben.id, 'ben 1')))).cost).toBe(1);
    expect((await statements(() => pipeline.append(t.app.services, input(cal.id, 'cal 1')))).cost).toBe(1);
    expect((await t.exec(Send, { input: { conversationId: ticket.id, body: 'cal 2' } }, { token: cal.token })).data!.sendMessage.__typename).toBe('Message');

    // Ann claims (through the API, so nothing in either pipeline hears of it).
    expect((await t.exec(Claim, { conversationId: ticket.id }, { token: ann.token })).data!.claimConversation.__typename).toBe('ConversationClaim');
    const count = (await stored()).length;

    // Cal's very next send is refused, naming ann, in both pipelines; nothing is stored.
    const viaApi = (await t.exec(Send, { input: { conversationId: ticket.id, body: 'cal refused' } }, { token: cal.token })).data!.sendMessage;
    expect(viaApi).toMatchObject({ __typename: 'ClaimHeldError', code: 'CONFLICT', holderId: ann.id });
    const first = await statements(() => pipeline.append(t.app.services, input(cal.id, 'cal refused again')).catch((err: unknown) => err));
    expect(first.value).toMatchObject({ name: 'ClaimHeldError', holderId: ann.id });
    expect((await stored()).length).toBe(count);
    // The pipeline remembers the conversation: the next send goes to the guard's read at once,
    // without the statement that would write nothing.
    const second = await statements(() => pipeline.append(t.app.services, input(ben.id, 'ben refused')).catch((err: unknown) => err));
    expect(second.value).toMatchObject({ name: 'ClaimHeldError', holderId: ann.id });
    expect(second.cost).toBe(first.cost - 1);

    // The holder and the customer write on, through both pipelines.
    await pipeline.append(t.app.services, input(ann.id, 'ann 1'));
    await pipeline.append(t.app.services, input(cus.id, 'cus 1'));
    expect((await t.exec(Send, { input: { conversationId: ticket.id, body: 'ann 2' } }, { token: ann.token })).data!.sendMessage.__typename).toBe('Message');
    expect((await t.exec(Send, { input: { conversationId: ticket.id, body: 'cus 2' } }, { token: cus.token })).data!.sendMessage.__typename).toBe('Message');

    // Released, and once the pipeline forgets it, a send is one statement again.
    expect((await t.exec(Release, { conversationId: ticket.id }, { token: ann.token })).data!.releaseClaim.__typename).toBe('ConversationClaim');
    await new Promise((r) => setTimeout(r, REMEMBER_MS + 50));
    expect((await statements(() => pipeline.append(t.app.services, input(ben.id, 'ben 2')))).cost).toBe(1);

    // Closed (no claim left to stop anyone), the ticket refuses the very next send too, the
    // customer's included.
    expect(await closeTicket(t, ws.admin.token, ticket.id)).toMatchObject({ __typename: 'Ticket' });
    await expect(pipeline.append(t.app.services, input(cus.id, 'after close'))).rejects.toMatchObject({ name: 'ConflictError' });

    const messages = await stored();
    expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => i + 1));
    expect(messages.slice(1).map((m) => m.body)).toEqual(['ben 1', 'cal 1', 'cal 2', 'ann 1', 'cus 1', 'ann 2', 'cus 2', 'ben 2']);
  });
});
