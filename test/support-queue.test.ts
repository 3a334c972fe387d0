/**
 * Urgency and the queue (legacy 001 "surface urgent messages first"): an agent's queue ordered
 * by urgency from priority, waiting time and content; agents told when something turns urgent;
 * a customer watching their position fall and estimated wait shrink, live.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { guest, workspace } from './helpers/fixtures.js';
import { closeTicket, lineManager, openTicket, product } from './helpers/support.js';

const Queue = graphql(`
  query QueueAgentQueue($workspaceId: ID!, $mine: Boolean) {
    supportQueue(workspaceId: $workspaceId, mine: $mine) {
      status
      urgency {
        score
        urgent
        keywords
        reasons
        waitingSince
      }
      conversation {
        id
        kind
        ... on Ticket {
          priority
        }
      }
    }
  }
`);

const Send = graphql(`
  mutation QueueSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

const CreateRoom = graphql(`
  mutation QueueCreateRoom($input: CreateRoomInput!) {
    createRoom(input: $input) {
      __typename
      ... on Room {
        id
      }
    }
  }
`);

const SetPriority = graphql(`
  mutation QueueSetPriority($input: UpdateTicketInput!) {
    updateTicket(input: $input) {
      __typename
    }
  }
`);

const QueueEvents = graphql(`
  subscription QueueUrgencyEvents($workspaceId: ID!) {
    supportQueueEvents(workspaceId: $workspaceId) {
      type
      conversationId
      urgency {
        score
        urgent
        previousScore
      }
    }
  }
`);

const TicketEvents = graphql(`
  subscription QueueTicketEvents($ticketId: ID!) {
    ticketEvents(ticketId: $ticketId) {
      type
      status
      position
      estimatedWaitSeconds
      queueVersion
      agent {
        id
      }
    }
  }
`);

const TicketPosition = graphql(`
  query QueueTicketPosition($id: ID!) {
    ticket(id: $id) {
      status
      queuePosition
      estimatedWaitSeconds
    }
  }
`);

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ SUPPORT_SWEEP_INTERVAL_MS: '100' });
});
afterAll(async () => {
  await t?.close();
});

/** Moves the start of a conversation's unanswered wait into the past (time passing, simulated). */
async function waitedMinutes(conversationId: string, minutes: number) {
  await t.app.services.db.conversationAttention.update({
    where: { conversationId },
    data: { awaitingSince: new Date(Date.now() - minutes * 60_000) },
  });
}

async function waitForEvent<R>(events: { next(n: number, ms?: number): Promise<R[]> }, match: (r: R) => boolean, ms = 20_000): Promise<R> {
  for (let n = 1; ; n++) {
    const got = await events.next(n, ms);
    const hit = got.find(match);
    if (hit) return hit;
  }
}

describe('urgency', () => {
  it('puts urgent work first in an agent’s queue: priority, waiting time and content together', async () => {
    const ws = await workspace(t, { ann: 'AGENT', cus: 'CLIENT' });
    const ann = ws.people.ann!;
    const prod = await product(t, ws.admin.token, ws.id);
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, capacity: 50 });
    const open = async (tag: string, priority: 'LOW' | 'NORMAL' | 'HIGH' | 'URGENT', message: string) => {
      const who = await guest(t, ws.id, `urgency-${tag}`);
      const ticket = await openTicket(t, who.token, { workspaceId: ws.id, productId: prod.id, priority, message });
      return { id: ticket.id, tag, token: who.token };
    };
    const a = await open('A', 'LOW', 'Just a question about colours');
    const b = await open('B', 'NORMAL', 'Hello there');
    const c = await open('C', 'HIGH', 'A question about invoices');
    const d = await open('D', 'URGENT', 'Please look at my account');
    const e = await open('E', 'NORMAL', 'I want a refund, the app is down');
    const f = await open('F', 'HIGH', 'Hello, anyone?');
    const g = await open('G', 'LOW', 'Please cancel my plan');
    const h = await open('H', 'HIGH', 'I want a refund');
    // H was answered: its wait and words no longer count.
    await t.exec(Send, { input: { conversationId: h.id, body: 'Refund issued.' } }, { token: ann.token });
    // F has waited 40 minutes, G 20.
    await waitedMinutes(f.id, 40);
    await waitedMinutes(g.id, 20);
    // A support room (not a ticket) whose customer reports an outage is in the queue too.
    const cus = ws.people.cus!;
    const room = (await t.exec(CreateRoom, { input: { workspaceId: ws.id, name: 'Help', roomType: 'SUPPORT', memberIds: [cus.id] } }, { token: ws.admin.token }))
      .data!.createRoom;
    if (room.__typename !== 'Room') throw new Error('room');
    await t.exec(Send, { input: { conversationId: room.id, body: 'The site is down for me' } }, { token: cus.token });

    const res = await t.exec(Queue, { workspaceId: ws.id }, { token: ann.token });
    const queue = res.data!.supportQueue;
    const tagOf = new Map([a, b, c, d, e, f, g, h].map((x) => [x.id, x.tag]));
    tagOf.set(room.id, 'room');
    // F 30+50=80, D 60, G 0+15+40=55, E 10+30=40, C 30 (waiting), H 30 (answered), room 10+15=25, B 10, A 0.
    expect(queue.map((q) => tagOf.get(q.conversation.id))).toEqual(['F', 'D', 'G', 'E', 'C', 'H', 'room', 'B', 'A']);
    const scores = queue.map((q) => q.urgency.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
    expect(queue.slice(0, 2).every((q) => q.urgency.urgent)).toBe(true);
    expect(queue.slice(2).some((q) => q.urgency.urgent)).toBe(false);
    const byTag = Object.fromEntries(queue.map((q) => [tagOf.get(q.conversation.id), q]));
    expect(byTag.E!.urgency.keywords).toEqual(['down', 'refund']);
    expect(byTag.G!.urgency.reasons).toEqual(['waiting 20 min for an answer (+40)', 'mentions cancel (+15)']);
    expect(byTag.H!.urgency).toMatchObject({ score: 30, keywords: [], waitingSince: null });
    expect(byTag.H!.status).toBe('WAITING');
    expect(byTag.room!.conversation.kind).toBe('ROOM');
    expect(byTag.room!.status).toBeNull();

    // Recomputed as things change: answering F ends its wait, and it drops below D.
    await t.exec(Send, { input: { conversationId: f.id, body: 'Sorry for the wait, looking now.' } }, { token: ann.token });
    const after = (await t.exec(Queue, { workspaceId: ws.id }, { token: ann.token })).data!.supportQueue;
    expect(tagOf.get(after[0]!.conversation.id)).toBe('D');
    expect(after.find((q) => q.conversation.id === f.id)!.urgency).toMatchObject({ score: 30, urgent: false });
  });

  it('tells agents when something turns urgent: by its words, by waiting, by its priority', async () => {
    const ws = await workspace(t, { ann: 'AGENT' });
    const ann = ws.people.ann!;
    const prod = await product(t, ws.admin.token, ws.id);
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id });
    const events = collect(t.ws({ token: ann.token }), QueueEvents, { workspaceId: ws.id });
    await events.next(1); // READY
    const turned = (id: string) => (r: (typeof events.results)[number]) =>
      r.data?.supportQueueEvents.type === 'TURNED_URGENT' && r.data.supportQueueEvents.conversationId === id;

    // Words: a HIGH ticket (30) whose customer asks for a refund because the service is down (+30).
    const worded = await guest(t, ws.id, 'turns-one');
    const w = await openTicket(t, worded.token, { workspaceId: ws.id, productId: prod.id, priority: 'HIGH', message: 'Hello' });
    await t.exec(Send, { input: { conversationId: w.id, body: 'The service is down and I want a refund' } }, { token: worded.token });
    const byWords = await waitForEvent(events, turned(w.id));
    expect(byWords.data!.supportQueueEvents.urgency).toMatchObject({ score: 60, urgent: true, previousScore: 30 });

    // Waiting: a NORMAL ticket unanswered for 30 minutes (10 + 50), noticed by the sweeper.
    const waiter = await guest(t, ws.id, 'turns-two');
    const x = await openTicket(t, waiter.token, { workspaceId: ws.id, productId: prod.id, message: 'Hello?' });
    await waitedMinutes(x.id, 30);
    const byWaiting = await waitForEvent(events, turned(x.id));
    expect(byWaiting.data!.supportQueueEvents.urgency).toMatchObject({ score: 60, urgent: true });

    // Priority: raised to URGENT by staff.
    const raised = await guest(t, ws.id, 'turns-three');
    const y = await openTicket(t, raised.token, { workspaceId: ws.id, productId: prod.id, message: 'Hi' });
    await t.exec(SetPriority, { input: { ticketId: y.id, priority: 'URGENT' } }, { token: ann.token });
    const byPriority = await waitForEvent(events, turned(y.id));
    expect(byPriority.data!.supportQueueEvents.urgency).toMatchObject({ score: 60, urgent: true, previousScore: 10 });

    // Answering brings the waiting one back down.
    await t.exec(Send, { input: { conversationId: x.id, body: 'Here now.' } }, { token: ann.token });
    const calmed = await waitForEvent(
      events,
      (r) => r.data?.supportQueueEvents.type === 'URGENCY_CHANGED' && r.data.supportQueueEvents.conversationId === x.id,
    );
    expect(calmed.data!.supportQueueEvents.urgency).toMatchObject({ score: 10, urgent: false, previousScore: 60 });
  });
});

describe('queue position and estimated wait', () => {
  it('shows a customer their position falling and estimated wait shrinking, live, as tickets ahead close', async () => {
    const ws = await workspace(t, { ann: 'AGENT' });
    const ann = ws.people.ann!;
    const prod = await product(t, ws.admin.token, ws.id);
    // One line manager serving one ticket at a time, 10 minutes each so far (the legacy seed).
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, capacity: 1, averageServingSeconds: 600 });
    const customers = await Promise.all([1, 2, 3, 4].map((i) => guest(t, ws.id, `position-${i}`)));
    const tickets = [];
    for (const c of customers) tickets.push(await openTicket(t, c.token, { workspaceId: ws.id, productId: prod.id }));
    const [t1, t2, t3, t4] = tickets as [(typeof tickets)[number], (typeof tickets)[number], (typeof tickets)[number], (typeof tickets)[number]];
    expect(t1.status).toBe('ASSIGNED');
    expect(t4).toMatchObject({ status: 'OPEN', queuePosition: 3, estimatedWaitSeconds: 1800 });

    const mine = collect(t.ws({ token: customers[3]!.token }), TicketEvents, { ticketId: t4.id });
    const [snapshot] = await mine.next(1);
    expect(snapshot!.data!.ticketEvents).toMatchObject({ type: 'SNAPSHOT', status: 'OPEN', position: 3, estimatedWaitSeconds: 1800 });

    // A queued ticket ahead is closed: one fewer ahead, same serving time.
    expect(await closeTicket(t, ws.admin.token, t3.id, 'duplicate')).toMatchObject({ __typename: 'Ticket' });
    const [, second] = await mine.next(2);
    expect(second!.data!.ticketEvents).toMatchObject({ type: 'POSITION_CHANGED', position: 2, estimatedWaitSeconds: 1200 });
    // The ticket being served is closed (quickly): the next one is served, and the measured
    // serving time lowers the average.
    expect(await closeTicket(t, ann.token, t1.id, 'done')).toMatchObject({ __typename: 'Ticket' });
    const [, , third] = await mine.next(3);
    expect(third!.data!.ticketEvents).toMatchObject({ type: 'POSITION_CHANGED', position: 1 });
    expect(third!.data!.ticketEvents.estimatedWaitSeconds).toBeLessThan(1200);
    expect((await t.exec(TicketPosition, { id: t4.id }, { token: customers[3]!.token })).data!.ticket).toMatchObject({
      status: 'OPEN',
      queuePosition: 1,
      estimatedWaitSeconds: third!.data!.ticketEvents.estimatedWaitSeconds,
    });
    expect(await closeTicket(t, ann.token, t2.id, 'done')).toMatchObject({ __typename: 'Ticket' });
    const [, , , assigned] = await mine.next(4);
    expect(assigned!.data!.ticketEvents).toMatchObject({ type: 'ASSIGNED', status: 'ASSIGNED', position: null, agent: { id: ann.id } });

    const seen = mine.results.map((r) => r.data!.ticketEvents);
    expect(seen.map((e) => e.position)).toEqual([3, 2, 1, null]);
    const waits = seen.slice(0, 3).map((e) => e.estimatedWaitSeconds!);
    expect(waits[0]).toBeGreaterThan(waits[1]!);
    expect(waits[1]).toBeGreaterThan(waits[2]!);
  });
});
