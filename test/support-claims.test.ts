/**
 * Claims (legacy 001: no two agents on the same message at once): exclusive under 50 concurrent
 * claims, a lease that lapses and passes to the next claimant, replies from non-holders refused
 * naming the holder, and release on close and on the holder's disconnect.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, until, type TestApp } from './helpers/app.js';
import { usingPostgres, usingRedis } from './helpers/database.js';
import { workspace } from './helpers/fixtures.js';
import { parseId } from '../src/graphql/ids.js';
import { refuseWhileClaimed } from '../src/modules/support/claims.js';
import { closeTicket, lineManager, openTicket, product } from './helpers/support.js';

const LEASE_SECONDS = 6;

const Claim = graphql(`
  mutation ClaimsClaim($conversationId: ID!, $messageId: ID) {
    claimConversation(conversationId: $conversationId, messageId: $messageId) {
      __typename
      ... on ConversationClaim {
        id
        holderId
        holderName
        messageId
        claimedAt
        expiresAt
      }
      ... on ClaimHeldError {
        holderId
        holderName
        expiresAt
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Release = graphql(`
  mutation ClaimsRelease($conversationId: ID!, $messageId: ID) {
    releaseClaim(conversationId: $conversationId, messageId: $messageId) {
      __typename
      ... on ConversationClaim {
        id
        releaseReason
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Send = graphql(`
  mutation ClaimsSend($input: SendMessageInput!) {
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

const SendTyped = graphql(`
  mutation ClaimsSendTyped($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Message {
        id
      }
      ... on ClaimHeldError {
        holderId
        holderName
        expiresAt
        messageId
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const SendTicketMessage = graphql(`
  mutation ClaimsSendTicket($input: SendTicketMessageInput!) {
    sendTicketMessage(input: $input) {
      __typename
      ... on Message {
        id
      }
      ... on ClaimHeldError {
        holderId
        holderName
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const CreateRoom = graphql(`
  mutation ClaimsCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
    }
  }
`);

const TicketClaim = graphql(`
  query ClaimsTicket($id: ID!) {
    ticket(id: $id) {
      claim {
        holderId
      }
    }
  }
`);

const QueueEvents = graphql(`
  subscription ClaimsQueueEvents($workspaceId: ID!) {
    supportQueueEvents(workspaceId: $workspaceId) {
      type
      conversationId
      claim {
        holderId
        holderName
        releaseReason
      }
    }
  }
`);

const ClaimAs = graphql(`
  mutation ClaimsClaimAs($conversationId: ID!, $asUserId: ID) {
    claimConversation(conversationId: $conversationId, asUserId: $asUserId) {
      __typename
      ... on ConversationClaim {
        holderId
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

const ReleaseAs = graphql(`
  mutation ClaimsReleaseAs($conversationId: ID!, $asUserId: ID) {
    releaseClaim(conversationId: $conversationId, asUserId: $asUserId) {
      __typename
      ... on ConversationClaim {
        holderId
        releaseReason
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const IssueKey = graphql(`
  mutation ClaimsIssueKey($workspaceId: ID!) {
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
  t = await startTestApp({ SUPPORT_CLAIM_LEASE_SECONDS: String(LEASE_SECONDS), SUPPORT_SWEEP_INTERVAL_MS: '100' });
});
afterAll(async () => {
  await t?.close();
});

type Queue = ReturnType<typeof queueEvents>;
function queueEvents(token: string, workspaceId: string) {
  return collect(t.ws({ token }), QueueEvents, { workspaceId });
}

/** Waits until the queue subscription has delivered an event matching `match`. */
async function waitFor(queue: Queue, match: (e: Queue['results'][number]) => boolean, ms = 20_000) {
  for (let n = 1; ; n++) {
    const got = await queue.next(n, ms);
    const hit = got.find(match);
    if (hit) return hit.data!.supportQueueEvents;
  }
}

describe('claims', () => {
  it('50 concurrent claims: exactly one wins; non-holders’ replies are refused naming the holder; the lapsed lease goes to the next claim', async () => {
    const roles = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`agent${i}`, 'AGENT' as const]));
    const ws = await workspace(t, { ...roles, cus: 'CLIENT' });
    const agents = Array.from({ length: 50 }, (_, i) => ws.people[`agent${i}`]!);
    const cus = ws.people.cus!;
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'help' });
    const queue = queueEvents(ws.admin.token, ws.id);
    await queue.next(1); // READY

    const results = await Promise.all(agents.map((a) => t.exec(Claim, { conversationId: ticket.id }, { token: a.token })));
    const claims = results.map((r) => r.data!.claimConversation);
    const winners = claims.filter((c) => c.__typename === 'ConversationClaim');
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    if (winner.__typename !== 'ConversationClaim') return;
    const holder = agents.find((a) => a.id === winner.holderId)!;
    const losers = claims.filter((c) => c.__typename === 'ClaimHeldError');
    expect(losers).toHaveLength(49);
    for (const lost of losers) expect(lost).toMatchObject({ holderId: holder.id, code: 'CONFLICT', expiresAt: winner.expiresAt });
    expect(losers[0]!.__typename === 'ClaimHeldError' && losers[0]!.message).toContain(`(${holder.id}) is working on this conversation`);
    expect(await t.app.services.db.conversationClaim.count({ where: { conversationId: ticket.id } })).toBe(1);
    const taken = await waitFor(queue, (r) => r.data?.supportQueueEvents.type === 'CLAIM_TAKEN');
    expect(taken).toMatchObject({ conversationId: ticket.id, claim: { holderId: holder.id } });

    // A reply from anyone else on staff is refused, on either path, and nothing is written.
    const other = agents.find((a) => a !== holder)!;
    const before = await t.app.services.db.message.count({ where: { conversationId: ticket.id } });
    const refused = await t.exec(Send, { input: { conversationId: ticket.id, body: 'I’ll take this' } }, { token: other.token });
    expect(refused.data!.sendMessage).toMatchObject({ code: 'CONFLICT' });
    expect(refused.data!.sendMessage.__typename !== 'Message' && refused.data!.sendMessage.message).toContain(holder.id);
    const refusedToo = await t.exec(SendTicketMessage, { input: { ticketId: ticket.id, body: 'me too' } }, { token: ws.admin.token });
    expect(refusedToo.data!.sendTicketMessage).toMatchObject({ __typename: 'ClaimHeldError', holderId: holder.id });
    expect(await t.app.services.db.message.count({ where: { conversationId: ticket.id } })).toBe(before);
    // The holder and the customer write freely.
    expect((await t.exec(Send, { input: { conversationId: ticket.id, body: 'On it' } }, { token: holder.token })).data!.sendMessage).toMatchObject({ __typename: 'Message' });
    expect((await t.exec(Send, { input: { conversationId: ticket.id, body: 'Thanks' } }, { token: cus.token })).data!.sendMessage).toMatchObject({ __typename: 'Message' });

    // Claiming again renews the lease: same claim, later expiry.
    const renewed = (await t.exec(Claim, { conversationId: ticket.id }, { token: holder.token })).data!.claimConversation;
    expect(renewed).toMatchObject({ __typename: 'ConversationClaim', id: winner.id, claimedAt: winner.claimedAt });
    expect(renewed.__typename === 'ConversationClaim' && Date.parse(renewed.expiresAt)).toBeGreaterThan(Date.parse(winner.expiresAt));

    // Left alone, the lease lapses (announced), and then the next claim wins.
    const expired = await waitFor(
      queue,
      (r) => r.data?.supportQueueEvents.type === 'CLAIM_RELEASED' && r.data.supportQueueEvents.claim?.releaseReason === 'EXPIRED',
      (LEASE_SECONDS + 20) * 1000,
    );
    expect(expired).toMatchObject({ conversationId: ticket.id, claim: { holderId: holder.id } });
    const next = await t.exec(Claim, { conversationId: ticket.id }, { token: other.token });
    expect(next.data!.claimConversation).toMatchObject({ __typename: 'ConversationClaim', holderId: other.id });
    const byOldHolder = await t.exec(Send, { input: { conversationId: ticket.id, body: 'still me?' } }, { token: holder.token });
    expect(byOldHolder.data!.sendMessage).toMatchObject({ code: 'CONFLICT' });
    const view = await t.exec(TicketClaim, { id: ticket.id }, { token: ws.admin.token });
    expect(view.data!.ticket.claim).toEqual({ holderId: other.id });
    // 51 sign-ups (password hashing) and a lease to lapse, on a shared machine.
  }, 180_000);

  /** Two agents and a customer's open ticket, claimed by the first agent (ann). */
  async function claimedTicket() {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'help' });
    const claim = (await t.exec(Claim, { conversationId: ticket.id }, { token: ann.token })).data!.claimConversation;
    if (claim.__typename !== 'ConversationClaim') throw new Error(JSON.stringify(claim));
    const before = await t.app.services.db.message.count({ where: { conversationId: ticket.id } });
    return { ws, ann, ben, cus, ticket, claim, before };
  }

  it('sendMessage answers ClaimHeldError with the holder, and ConflictError on a closed ticket (the send guard’s errors are in its union)', async () => {
    const { ws, ann, ben, ticket, claim, before } = await claimedTicket();

    const refused = (await t.exec(SendTyped, { input: { conversationId: ticket.id, body: 'mine now' } }, { token: ben.token })).data!.sendMessage;
    expect(refused).toMatchObject({
      __typename: 'ClaimHeldError',
      code: 'CONFLICT',
      holderId: ann.id,
      holderName: claim.holderName,
      expiresAt: claim.expiresAt,
      messageId: null,
    });
    expect(await t.app.services.db.message.count({ where: { conversationId: ticket.id } })).toBe(before);

    // Closed, the ticket takes no message: a typed ConflictError, not a bare BaseError.
    expect(await closeTicket(t, ws.admin.token, ticket.id)).toMatchObject({ __typename: 'Ticket' });
    const closed = (await t.exec(SendTyped, { input: { conversationId: ticket.id, body: 'hello?' } }, { token: ann.token })).data!.sendMessage;
    expect(closed).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
  });

  it('one group commit of the holder’s, another agent’s and the customer’s sends: only the other agent is refused, the rest keep gapless seqs, and the claim is read once per commit', async () => {
    const { ann, ben, cus, ticket, before } = await claimedTicket();
    // Nine sends at once, three by each: those arriving while a commit is written wait for the next.
    const senders = [ann, ben, cus, ann, ben, cus, ann, ben, cus];
    const answers = await Promise.all(
      senders.map((who, i) => t.exec(SendTyped, { input: { conversationId: ticket.id, body: `at once ${i}` } }, { token: who.token })),
    );
    answers.forEach((answer, i) => {
      const result = answer.data!.sendMessage;
      if (senders[i] === ben) expect(result).toMatchObject({ __typename: 'ClaimHeldError', holderId: ann.id });
      else expect(result.__typename).toBe('Message');
    });
    const stored = await t.app.services.db.message.findMany({ where: { conversationId: ticket.id }, orderBy: { seq: 'asc' }, select: { seq: true, body: true } });
    expect(stored).toHaveLength(before + 6);
    expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(stored.filter((m) => m.body.startsWith('at once')).map((m) => Number(m.body.slice(8))).sort()).toEqual([0, 2, 3, 5, 6, 8]);

    // The guard answers a whole commit with one read (and one of the authors' roles, as another
    // agent holds the claim), however many messages wait.
    const conversationId = parseId(ticket.id, 'Conversation');
    const inputs = senders.map((who) => ({ conversationId, authorId: who.id, body: 'guarded' }));
    // (Counted as calls to the database client: this app's claim sweeper queries meanwhile.)
    let reads = 0;
    const db = t.app.services.db;
    const counting = new Proxy(db, {
      get(target, prop, receiver) {
        const model: unknown = Reflect.get(target, prop, receiver);
        if (prop !== 'conversation' && prop !== 'membership') return model;
        return new Proxy(model as object, {
          get(m, method) {
            const f: unknown = Reflect.get(m, method);
            if (typeof f !== 'function') return f;
            return (...args: unknown[]) => {
              reads++;
              return (f as (...a: unknown[]) => unknown).apply(m, args);
            };
          },
        });
      },
    });
    const verdicts = await refuseWhileClaimed.check({ ...t.app.services, db: counting }, conversationId, inputs);
    expect(reads).toBe(2);
    expect(verdicts.map((v) => v?.constructor.name ?? null)).toEqual(senders.map((who) => (who === ben ? 'ClaimHeldError' : null)));
  });

  it('a retry of a send written before another agent claimed the ticket gets that message back, not the claim’s refusal', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'help' });
    const send = (clientMessageId: string) =>
      t.exec(SendTyped, { input: { conversationId: ticket.id, body: 'on it', clientMessageId } }, { token: ben.token });
    const first = (await send('ben-1')).data!.sendMessage;
    if (first.__typename !== 'Message') throw new Error(JSON.stringify(first));
    const claim = (await t.exec(Claim, { conversationId: ticket.id }, { token: ann.token })).data!.claimConversation;
    expect(claim.__typename).toBe('ConversationClaim');
    const count = await t.app.services.db.message.count({ where: { conversationId: ticket.id } });

    // The retry (its answer was lost, say) is the same send: it was written, so it is answered.
    expect((await send('ben-1')).data!.sendMessage).toMatchObject({ __typename: 'Message', id: first.id });
    // A new send is refused: ann holds the claim.
    expect((await send('ben-2')).data!.sendMessage).toMatchObject({ __typename: 'ClaimHeldError', holderId: ann.id });
    expect(await t.app.services.db.message.count({ where: { conversationId: ticket.id } })).toBe(count);
  });

  it('releases a claim when the ticket closes, and when the holder releases it', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const prod = await product(t, ws.admin.token, ws.id);
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id });
    const queue = queueEvents(ws.admin.token, ws.id);
    await queue.next(1);

    const first = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect((await t.exec(Claim, { conversationId: first.id }, { token: ann.token })).data!.claimConversation.__typename).toBe('ConversationClaim');
    const byBen = await t.exec(Release, { conversationId: first.id }, { token: ben.token });
    expect(byBen.data!.releaseClaim).toMatchObject({ __typename: 'ForbiddenError' });
    expect(await closeTicket(t, ann.token, first.id, 'done')).toMatchObject({ __typename: 'Ticket' });
    const closed = await waitFor(queue, (r) => r.data?.supportQueueEvents.claim?.releaseReason === 'CLOSED');
    expect(closed).toMatchObject({ type: 'CLAIM_RELEASED', conversationId: first.id, claim: { holderId: ann.id } });
    expect((await t.exec(Claim, { conversationId: first.id }, { token: ben.token })).data!.claimConversation).toMatchObject({ code: 'CONFLICT' });

    const second = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    await t.exec(Claim, { conversationId: second.id }, { token: ann.token });
    const released = await t.exec(Release, { conversationId: second.id }, { token: ann.token });
    expect(released.data!.releaseClaim).toMatchObject({ __typename: 'ConversationClaim', releaseReason: 'RELEASED' });
    expect((await t.exec(Claim, { conversationId: second.id }, { token: ben.token })).data!.claimConversation).toMatchObject({
      __typename: 'ConversationClaim',
      holderId: ben.id,
    });
    // An admin may release anyone's claim.
    const forced = await t.exec(Release, { conversationId: second.id }, { token: ws.admin.token });
    expect(forced.data!.releaseClaim).toMatchObject({ __typename: 'ConversationClaim', releaseReason: 'RELEASED' });
  });

  it('releases a claim when the holder’s last live connection closes', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const prod = await product(t, ws.admin.token, ws.id);
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    const queue = queueEvents(ws.admin.token, ws.id);
    await queue.next(1);

    // Ann is connected twice; closing one connection keeps her claim.
    const annSockets = [t.ws({ token: ann.token }), t.ws({ token: ann.token })];
    const annSubs = annSockets.map((c) => collect(c, QueueEvents, { workspaceId: ws.id }));
    await Promise.all(annSubs.map((s) => s.next(1)));
    await t.exec(Claim, { conversationId: ticket.id }, { token: ann.token });
    await waitFor(queue, (r) => r.data?.supportQueueEvents.type === 'CLAIM_TAKEN');
    await annSockets[0]!.dispose();
    // Ben's claim is still refused while Ann's other connection lives.
    expect((await t.exec(Claim, { conversationId: ticket.id }, { token: ben.token })).data!.claimConversation).toMatchObject({ holderId: ann.id });
    await annSockets[1]!.dispose();
    const gone = await waitFor(queue, (r) => r.data?.supportQueueEvents.claim?.releaseReason === 'DISCONNECTED');
    expect(gone).toMatchObject({ conversationId: ticket.id, claim: { holderId: ann.id } });
    expect((await t.exec(Claim, { conversationId: ticket.id }, { token: ben.token })).data!.claimConversation).toMatchObject({
      __typename: 'ConversationClaim',
      holderId: ben.id,
    });
  });

  // Two instances need a shared database and Redis: the CI's PostgreSQL + Redis pass.
  it.skipIf(!(usingPostgres && usingRedis))(
    'across instances: a holder connected to two instances keeps the claim until the last of the two connections closes',
    async () => {
      const b = await startTestApp({}, t.db);
      try {
        const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
        const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
        const prod = await product(t, ws.admin.token, ws.id);
        const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
        const queue = queueEvents(ws.admin.token, ws.id);
        await queue.next(1);
        // Ann: one connection on each instance.
        const onA = t.ws({ token: ann.token });
        const onB = b.ws({ token: ann.token });
        await Promise.all([collect(onA, QueueEvents, { workspaceId: ws.id }).next(1), collect(onB, QueueEvents, { workspaceId: ws.id }).next(1)]);
        await t.exec(Claim, { conversationId: ticket.id }, { token: ann.token });
        await waitFor(queue, (r) => r.data?.supportQueueEvents.type === 'CLAIM_TAKEN');

        await onA.dispose();
        await until(() => t.app.services.connections.countFor(ann.id) === 0);
        // A has handled the close (it asks Redis whether Ann is connected elsewhere, then would
        // release at once); give that a moment, then the claim must still be Ann's.
        await new Promise((r) => setTimeout(r, 500));
        expect((await t.exec(Claim, { conversationId: ticket.id }, { token: ben.token })).data!.claimConversation).toMatchObject({ holderId: ann.id });
        expect(queue.results.some((r) => r.data?.supportQueueEvents.type === 'CLAIM_RELEASED')).toBe(false);

        await onB.dispose();
        const gone = await waitFor(queue, (r) => r.data?.supportQueueEvents.claim?.releaseReason === 'DISCONNECTED');
        expect(gone).toMatchObject({ conversationId: ticket.id, claim: { holderId: ann.id } });
        expect((await t.exec(Claim, { conversationId: ticket.id }, { token: ben.token })).data!.claimConversation).toMatchObject({
          __typename: 'ConversationClaim',
          holderId: ben.id,
        });
      } finally {
        await b.stop();
      }
    },
  );

  it('claims one message of any conversation: replies to it are the holder’s, the rest stays open', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const room = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Help', roomType: 'SUPPORT', memberIds: [cus.id] } }, { token: ws.admin.token }))
      .data!.createRoom;
    if (room.__typename !== 'Room') throw new Error('room');
    const m1 = (await t.exec(Send, { input: { conversationId: room.id, body: 'first question' } }, { token: cus.token })).data!.sendMessage;
    const m2 = (await t.exec(Send, { input: { conversationId: room.id, body: 'second question' } }, { token: cus.token })).data!.sendMessage;
    if (m1.__typename !== 'Message' || m2.__typename !== 'Message') throw new Error('send');

    expect((await t.exec(Claim, { conversationId: room.id, messageId: m1.id }, { token: ann.token })).data!.claimConversation).toMatchObject({
      __typename: 'ConversationClaim',
      messageId: m1.id,
    });
    const benOnM1 = await t.exec(Claim, { conversationId: room.id, messageId: m1.id }, { token: ben.token });
    expect(benOnM1.data!.claimConversation).toMatchObject({ __typename: 'ClaimHeldError', holderId: ann.id });
    expect(benOnM1.data!.claimConversation.__typename !== 'ConversationClaim' && benOnM1.data!.claimConversation.message).toContain('working on this message');
    const benReply = await t.exec(Send, { input: { conversationId: room.id, body: 'answer 1', replyToId: m1.id } }, { token: ben.token });
    expect(benReply.data!.sendMessage).toMatchObject({ code: 'CONFLICT' });
    expect((await t.exec(Claim, { conversationId: room.id, messageId: m2.id }, { token: ben.token })).data!.claimConversation).toMatchObject({
      __typename: 'ConversationClaim',
    });
    expect((await t.exec(Send, { input: { conversationId: room.id, body: 'answer 2', replyToId: m2.id } }, { token: ben.token })).data!.sendMessage).toMatchObject({
      __typename: 'Message',
    });
    expect((await t.exec(Send, { input: { conversationId: room.id, body: 'answer 1', replyToId: m1.id } }, { token: ann.token })).data!.sendMessage).toMatchObject({
      __typename: 'Message',
    });
    // Customers and API keys do not claim.
    expect((await t.exec(Claim, { conversationId: room.id }, { token: cus.token })).data!.claimConversation).toMatchObject({ code: 'FORBIDDEN' });
    const unknown = await t.exec(Claim, { conversationId: room.id, messageId: '5b1f4c1e-0000-4000-8000-000000000009' }, { token: ann.token });
    expect(unknown.data!.claimConversation).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lets an API key claim and release for an agent it names (asUserId), and never for a customer', async () => {
    const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
    const [ann, ben, cus] = [ws.people.ann!, ws.people.ben!, ws.people.cus!];
    const room = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Help', roomType: 'SUPPORT', memberIds: [cus.id] } }, { token: ws.admin.token }))
      .data!.createRoom;
    if (room.__typename !== 'Room') throw new Error('room');
    const issued = await t.exec(IssueKey, { workspaceId: ws.id }, { token: ws.admin.token });
    if (issued.data?.issueApiKey.__typename !== 'IssuedApiKey') throw new Error('key');
    const key = issued.data.issueApiKey.secret;

    expect((await t.exec(ClaimAs, { conversationId: room.id, asUserId: ann.id }, { token: key })).data!.claimConversation).toMatchObject({
      __typename: 'ConversationClaim',
      holderId: ann.id,
    });
    expect((await t.exec(ClaimAs, { conversationId: room.id, asUserId: ben.id }, { token: key })).data!.claimConversation).toMatchObject({
      __typename: 'ClaimHeldError',
      holderId: ann.id,
    });
    // Ben's reply written by the key is refused too; Ann's goes through.
    const benReply = await t.exec(Send, { input: { conversationId: room.id, body: 'mine', asUserId: ben.id } }, { token: key });
    expect(benReply.data!.sendMessage).toMatchObject({ code: 'CONFLICT' });
    expect((await t.exec(Send, { input: { conversationId: room.id, body: 'ok', asUserId: ann.id } }, { token: key })).data!.sendMessage).toMatchObject({
      __typename: 'Message',
    });
    expect((await t.exec(ClaimAs, { conversationId: room.id, asUserId: cus.id }, { token: key })).data!.claimConversation).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.exec(ClaimAs, { conversationId: room.id }, { token: key })).data!.claimConversation).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.exec(ClaimAs, { conversationId: room.id, asUserId: ben.id }, { token: ann.token })).data!.claimConversation).toMatchObject({ code: 'FORBIDDEN' });
    // Released as Ben, it is not his to release; as Ann, it ends.
    expect((await t.exec(ReleaseAs, { conversationId: room.id, asUserId: ben.id }, { token: key })).data!.releaseClaim).toMatchObject({ code: 'FORBIDDEN' });
    expect((await t.exec(ReleaseAs, { conversationId: room.id, asUserId: ann.id }, { token: key })).data!.releaseClaim).toMatchObject({
      __typename: 'ConversationClaim',
      holderId: ann.id,
      releaseReason: 'RELEASED',
    });
  });
});
