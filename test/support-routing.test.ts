/**
 * Routing under concurrency: 200 tickets opened at once against 5 line managers of capacity 10.
 * On PostgreSQL the tickets arrive through two server instances sharing the database, so only
 * the database's row lock keeps the counts exact; on PGlite through one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { usingPostgres } from './helpers/database.js';
import { guest, workspace } from './helpers/fixtures.js';
import { apiKey, closeTicket, lineManager, openTicket, product } from './helpers/support.js';

const QueueEvents = graphql(`
  subscription RoutingQueueEvents($workspaceId: ID!) {
    supportQueueEvents(workspaceId: $workspaceId) {
      type
      conversationId
      lineManagerOpenTickets
      queueVersion
      ticket {
        lineManagerId
        status
      }
    }
  }
`);

const Positions = graphql(`
  query RoutingTicket($id: ID!) {
    ticket(id: $id) {
      status
      queuePosition
    }
  }
`);

const TICKETS = 200;
const MANAGERS = 5;
const CAPACITY = 10;

let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  const env = { SUBSCRIPTION_QUEUE_LIMIT: '10000' };
  a = await startTestApp(env);
  b = usingPostgres ? await startTestApp(env, a.db) : a;
});
afterAll(async () => {
  if (b !== a) await b?.stop();
  await a?.close();
});

describe('routing 200 concurrent tickets', () => {
  it('never exceeds a capacity, keeps counts equal to the open tickets really assigned, and drains the queue in order', async () => {
    const agents = Object.fromEntries(Array.from({ length: MANAGERS }, (_, i) => [`agent${i}`, 'AGENT' as const]));
    const ws = await workspace(a, agents);
    const key = await apiKey(a, ws.id, ws.admin.token);
    const prod = await product(a, ws.admin.token, ws.id);
    const lms: string[] = [];
    for (let i = 0; i < MANAGERS; i++) {
      lms.push(await lineManager(a, key, { workspaceId: ws.id, userId: ws.people[`agent${i}`]!.id, capacity: CAPACITY, positionInLine: i + 1 }));
    }
    const customers = await Promise.all(Array.from({ length: 20 }, (_, i) => guest(a, ws.id, `routing-${i}`)));

    const events = collect(a.ws({ token: key }), QueueEvents, { workspaceId: ws.id });
    const [ready] = await events.next(1);
    expect(ready!.data!.supportQueueEvents.type).toBe('READY');
    const seen = 1;
    // 200 at once, half through each instance.
    const opened = await Promise.all(
      Array.from({ length: TICKETS }, (_, i) =>
        openTicket(i % 2 ? b : a, customers[i % customers.length]!.token, { workspaceId: ws.id, productId: prod.id }),
      ),
    );
    expect(opened).toHaveLength(TICKETS);

    const db = a.app.services.db;
    const assertCounts = async () => {
      const rows = await db.lineManager.findMany({ where: { workspaceId: ws.id }, select: { id: true, openTicketCount: true, capacity: true } });
      for (const lm of rows) {
        const really: number = await db.supportTicket.count({ where: { lineManagerId: lm.id, status: { in: ['ASSIGNED', 'WAITING'] } } });
        expect(lm.openTicketCount).toBe(really);
        expect(lm.openTicketCount).toBeLessThanOrEqual(lm.capacity);
      }
      return rows;
    };

    const afterOpen = await assertCounts();
    expect(afterOpen.map((lm) => lm.openTicketCount)).toEqual(Array(MANAGERS).fill(CAPACITY));
    const tickets = await db.supportTicket.findMany({
      where: { workspaceId: ws.id, conversationId: { in: opened.map((o) => o.id) } },
      orderBy: { queueNumber: 'asc' },
    });
    expect(new Set(tickets.map((x) => x.queueNumber)).size).toBe(TICKETS);
    expect(tickets.filter((x) => x.status === 'ASSIGNED')).toHaveLength(MANAGERS * CAPACITY);
    const queueOrder = tickets.filter((x) => x.status === 'OPEN').map((x) => x.conversationId);
    expect(queueOrder).toHaveLength(TICKETS - MANAGERS * CAPACITY);
    // The first 50 to arrive were served; the queue holds the rest in arrival order.
    expect(tickets.slice(0, MANAGERS * CAPACITY).every((x) => x.status === 'ASSIGNED')).toBe(true);
    const head = await a.exec(Positions, { id: queueOrder[0]! }, { token: key });
    const tail = await a.exec(Positions, { id: queueOrder[queueOrder.length - 1]! }, { token: key });
    expect(head.data!.ticket).toMatchObject({ status: 'OPEN', queuePosition: 1 });
    expect(tail.data!.ticket).toMatchObject({ status: 'OPEN', queuePosition: queueOrder.length });

    // Close one ticket per line manager at a time, concurrently, until everything is closed. After
    // each round the tickets that left the queue are exactly its head, in order.
    let closedCount = 0;
    for (let round = 0; closedCount < TICKETS; round++) {
      const open = await db.supportTicket.findMany({
        where: { workspaceId: ws.id, status: 'ASSIGNED', conversationId: { in: opened.map((o) => o.id) } },
        orderBy: { assignedAt: 'asc' },
        select: { conversationId: true, lineManagerId: true },
      });
      const oneEach = [...new Map(open.map((x) => [x.lineManagerId, x.conversationId])).values()];
      const results = await Promise.all(oneEach.map((id, i) => closeTicket(i % 2 ? b : a, key, id, `round ${round}`)));
      expect(results.every((r) => r.__typename === 'Ticket')).toBe(true);
      closedCount += oneEach.length;
      await assertCounts();
      const stillQueued = await db.supportTicket.findMany({
        where: { workspaceId: ws.id, status: 'OPEN' },
        orderBy: { queueNumber: 'asc' },
        select: { conversationId: true },
      });
      const left = queueOrder.length - stillQueued.length;
      expect(stillQueued.map((x) => x.conversationId)).toEqual(queueOrder.slice(left));
      const servedFromQueue = await db.supportTicket.findMany({
        where: { conversationId: { in: queueOrder.slice(0, left) } },
        select: { status: true },
      });
      expect(servedFromQueue.every((x) => x.status !== 'OPEN')).toBe(true);
    }
    expect(closedCount).toBe(TICKETS);
    expect((await assertCounts()).every((lm) => lm.openTicketCount === 0)).toBe(true);

    // Every assignment was announced with the manager's count after it, read under the lock:
    // none ever above capacity; and the queued tickets were assigned in queue order.
    const expected = seen + TICKETS /* opened */ + TICKETS /* assigned */ + TICKETS /* closed */;
    const all = (await events.next(expected, 30_000)).slice(seen).map((r) => r.data!.supportQueueEvents);
    const assigned = all.filter((e) => e.type === 'TICKET_ASSIGNED');
    expect(assigned).toHaveLength(TICKETS);
    expect(Math.max(...assigned.map((e) => e.lineManagerOpenTickets!))).toBe(CAPACITY);
    const fromQueue = assigned
      .filter((e) => queueOrder.includes(e.conversationId!))
      .sort((x, y) => x.queueVersion! - y.queueVersion!)
      .map((e) => e.conversationId);
    expect(fromQueue).toEqual(queueOrder);
    // 200 tickets opened and closed on a shared 2-core machine: allow minutes, not seconds.
  }, 300_000);
});
