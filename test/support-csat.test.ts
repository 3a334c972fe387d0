/**
 * Satisfaction ratings (CSAT): a closed ticket's customer rates it once, within the window;
 * figures per line manager are exact when many tickets close and are rated at once; staff hear
 * of each rating live; legacy 002 tickets keep their documented shape.
 */
import { io, type Socket as IoSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, until, type TestApp } from './helpers/app.js';
import { guest, person, workspace, type Person } from './helpers/fixtures.js';
import { startLegacyApp, type LegacyApp } from './helpers/legacy.js';
import { closeTicket, lineManager, openTicket, product } from './helpers/support.js';

const AddMember = graphql(`
  mutation CsatAddMember($input: AddWorkspaceMemberInput!) {
    addWorkspaceMember(input: $input) {
      __typename
    }
  }
`);

const Rate = graphql(`
  mutation CsatRate($input: RateTicketInput!) {
    rateTicket(input: $input) {
      __typename
      ... on TicketRating {
        id
        score
        comment
        closing
        lineManager {
          id
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const TicketRating = graphql(`
  query CsatTicket($id: ID!) {
    ticket(id: $id) {
      status
      ratableUntil
      customer {
        id
      }
      rating {
        score
        comment
      }
    }
  }
`);

const Ratings = graphql(`
  query CsatRatings($workspaceId: ID!, $period: RatingPeriod) {
    ticketRatings(workspaceId: $workspaceId, period: $period) {
      lineManager {
        id
      }
      periodStart
      count
      average
    }
    lineManagers(workspaceId: $workspaceId) {
      id
      satisfaction {
        count
        average
      }
    }
  }
`);

const QueueEvents = graphql(`
  subscription CsatQueue($workspaceId: ID!) {
    supportQueueEvents(workspaceId: $workspaceId) {
      type
      conversationId
      rating {
        score
        comment
        lineManagerId
        customerId
      }
    }
  }
`);

let L: LegacyApp;
let t: TestApp;
let workspaceId: string;
let ann: Person;
let ben: Person;
let carol: Person;
let slug: string;
const managers: Record<string, string> = {};

async function member(role: 'AGENT' | 'CLIENT', tag: string): Promise<Person> {
  const p = await person(t, tag);
  const added = await t.exec(AddMember, { input: { workspaceId, email: p.email, role } }, { token: L.admin.token });
  expect(added.data?.addWorkspaceMember.__typename).toBe('Membership');
  return p;
}

async function rate(token: string, ticketId: string, score: number, comment?: string, asUserId?: string) {
  return (await t.exec(Rate, { input: { ticketId, score, comment, asUserId } }, { token })).data!.rateTicket;
}

beforeAll(async () => {
  L = await startLegacyApp();
  t = L.t;
  workspaceId = L.workspaceId;
  ann = await member('AGENT', 'ann');
  ben = await member('AGENT', 'ben');
  carol = await member('CLIENT', 'carol');
  slug = (await product(t, L.admin.token, workspaceId)).slug;
  managers[ann.id] = await lineManager(t, L.admin.token, { workspaceId, userId: ann.id, capacity: 50, positionInLine: 1 });
  managers[ben.id] = await lineManager(t, L.admin.token, { workspaceId, userId: ben.id, capacity: 50, positionInLine: 2 });
});
afterAll(async () => {
  await t?.close();
});

describe('ticket ratings', () => {
  it('the customer rates a closed ticket once (again: CONFLICT); staff hear of it live; bad ratings change nothing', async () => {
    const ticket = await openTicket(t, carol.token, { workspaceId, productSlug: slug, message: 'The app crashes' });
    const lineManagerId = ticket.lineManager!.id;
    expect(await rate(carol.token, ticket.id, 5)).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });

    const queue = collect(t.ws({ token: ann.token }), QueueEvents, { workspaceId });
    await queue.next(1);
    expect(await closeTicket(t, L.admin.token, ticket.id)).toMatchObject({ status: 'CLOSED' });
    // Not the customer's to give: staff; out of range; from another workspace's viewpoint.
    expect(await rate(ann.token, ticket.id, 5)).toMatchObject({ code: 'FORBIDDEN' });
    expect(await rate(carol.token, ticket.id, 6)).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    expect(await rate(carol.token, ticket.id, 0)).toMatchObject({ code: 'BAD_USER_INPUT' });
    const stranger = await person(t, 'stranger');
    expect(await rate(stranger.token, ticket.id, 5)).toMatchObject({ code: 'NOT_FOUND' });

    const rated = await rate(carol.token, ticket.id, 4, '  Fixed quickly  ');
    expect(rated).toMatchObject({ __typename: 'TicketRating', score: 4, comment: 'Fixed quickly', closing: 0, lineManager: { id: lineManagerId } });
    expect(await rate(carol.token, ticket.id, 1, 'changed my mind')).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    const seen = await t.exec(TicketRating, { id: ticket.id }, { token: carol.token });
    expect(seen.data!.ticket).toMatchObject({ status: 'CLOSED', rating: { score: 4, comment: 'Fixed quickly' } });

    await until(() => queue.results.some((r) => r.data?.supportQueueEvents.type === 'TICKET_RATED'));
    const event = queue.results.find((r) => r.data?.supportQueueEvents.type === 'TICKET_RATED')!.data!.supportQueueEvents;
    expect(event).toEqual({
      type: 'TICKET_RATED',
      conversationId: ticket.id,
      rating: { score: 4, comment: 'Fixed quickly', lineManagerId, customerId: carol.id },
    });
    expect(queue.results.filter((r) => r.data?.supportQueueEvents.type === 'TICKET_RATED')).toHaveLength(1);
    queue.dispose();
    // Customers do not follow the queue.
    const customerQueue = collect(t.ws({ token: carol.token }), QueueEvents, { workspaceId });
    await customerQueue.completed;
    expect(JSON.stringify(customerQueue.errors.length ? customerQueue.errors : customerQueue.results)).toContain('NOT_FOUND');
  });

  it('two ratings of one closing sent at once: exactly one is kept', async () => {
    const ticket = await openTicket(t, carol.token, { workspaceId, productSlug: slug, message: 'Race' });
    await closeTicket(t, L.admin.token, ticket.id);
    const both = await Promise.all([rate(carol.token, ticket.id, 2), rate(carol.token, ticket.id, 5)]);
    expect(both.map((r) => r.__typename).sort()).toEqual(['ConflictError', 'TicketRating']);
  });

  it('averages per line manager (all time and per day) are exact when tickets close and are rated concurrently', async () => {
    const before = (await t.exec(Ratings, { workspaceId }, { token: L.admin.token })).data!;
    const count0 = (id: string) => before.ticketRatings.find((r) => r.lineManager?.id === id) ?? { count: 0, average: null };
    const guests = await Promise.all(Array.from({ length: 16 }, (_, i) => guest(t, workspaceId, `csat-guest-${Date.now()}-${i}`)));
    const tickets = [];
    for (const g of guests) tickets.push({ g, ticket: await openTicket(t, g.token, { workspaceId, productSlug: slug, message: 'Help' }) });
    const scores = tickets.map((_, i) => (i * 7) % 5 + 1);
    await Promise.all(
      tickets.map(async ({ g, ticket }, i) => {
        expect(await closeTicket(t, L.admin.token, ticket.id)).toMatchObject({ status: 'CLOSED' });
        expect(await rate(g.token, ticket.id, scores[i]!)).toMatchObject({ __typename: 'TicketRating', score: scores[i] });
      }),
    );
    const expected = new Map<string, { count: number; sum: number }>();
    for (const lm of Object.values(managers)) {
      const prior = count0(lm);
      expected.set(lm, { count: prior.count, sum: (prior.average ?? 0) * prior.count });
    }
    tickets.forEach(({ ticket }, i) => {
      const e = expected.get(ticket.lineManager!.id)!;
      e.count += 1;
      e.sum += scores[i]!;
    });
    const after = (await t.exec(Ratings, { workspaceId }, { token: L.admin.token })).data!;
    for (const [lm, e] of expected) {
      const row = after.ticketRatings.find((r) => r.lineManager?.id === lm)!;
      expect(row.count).toBe(e.count);
      expect(row.average).toBeCloseTo(e.sum / e.count, 10);
      expect(after.lineManagers.find((m) => m.id === lm)!.satisfaction).toEqual({ count: row.count, average: row.average });
    }
    // Both line managers served some of them (the desk routes to the least loaded).
    expect(new Set(tickets.map(({ ticket }) => ticket.lineManager!.id)).size).toBe(2);
    const perDay = (await t.exec(Ratings, { workspaceId, period: 'DAY' }, { token: L.admin.token })).data!.ticketRatings;
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    for (const [lm, e] of expected) {
      const days = perDay.filter((r) => r.lineManager?.id === lm);
      expect(days.reduce((n, r) => n + r.count, 0)).toBe(e.count);
      expect(days.every((r) => new Date(r.periodStart!).getTime() <= Date.now() && new Date(r.periodStart!).getUTCHours() === 0)).toBe(true);
      expect(days.some((r) => new Date(r.periodStart!).getTime() === today.getTime())).toBe(true);
    }
    // Customers see no figures.
    expect((await t.exec(Ratings, { workspaceId }, { token: carol.token })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('legacy 002 tickets keep their documented shape once rated', async () => {
    const s: IoSocket = io(t.url, { autoConnect: false, reconnection: false, transports: ['websocket'] });
    const received: Array<[string, any]> = [];
    s.onAny((event: string, data: unknown) => received.push([event, data]));
    s.connect();
    await new Promise((resolve, reject) => s.once('connect', () => resolve(undefined)).once('connect_error', reject));
    const creds = { workspace_id: workspaceId, api_key: L.apiKey };
    const ask = async (event: string, payload: Record<string, unknown>) => {
      const from = received.length;
      s.emit(event, payload);
      await until(() => received.slice(from).some(([, d]) => d?.operation === event));
      return received.slice(from).find(([, d]) => d?.operation === event)![1];
    };
    const created = await ask('create_ticket', { user_id: `csat-legacy-${Date.now()}`, product: slug, ...creds });
    const ticketId = created.data._id as string;
    expect(await closeTicket(t, L.admin.token, ticketId)).toMatchObject({ status: 'CLOSED' });
    const listed = await ask('get_tickets', { product: slug, ...creds });
    const before = listed.data.find((x: { _id: string }) => x._id === ticketId);
    expect(before).toMatchObject({ _id: ticketId, is_closed: true });

    const customerId = (await t.exec(TicketRating, { id: ticketId }, { token: L.apiKey })).data!.ticket.customer.id;
    expect(await rate(L.apiKey, ticketId, 3, 'ok', customerId)).toMatchObject({ __typename: 'TicketRating', score: 3 });
    const again = await ask('get_tickets', { product: slug, ...creds });
    expect(again.data.find((x: { _id: string }) => x._id === ticketId)).toEqual(before);
    s.disconnect();
  });
});

describe('the rating window', () => {
  it('refuses a rating once CSAT_RATING_WINDOW_SECONDS have passed since the close, and takes one within it', async () => {
    const w = await startTestApp({ CSAT_RATING_WINDOW_SECONDS: '2' });
    try {
      const ws = await workspace(w, { cleo: 'CLIENT' });
      const cleo = ws.people.cleo!;
      const { slug: s } = await product(w, ws.admin.token, ws.id);
      const first = await openTicket(w, cleo.token, { workspaceId: ws.id, productSlug: s, message: 'one' });
      const second = await openTicket(w, cleo.token, { workspaceId: ws.id, productSlug: s, message: 'two' });
      await closeTicket(w, ws.admin.token, first.id);
      await closeTicket(w, ws.admin.token, second.id);
      const inTime = await w.exec(Rate, { input: { ticketId: first.id, score: 5 } }, { token: cleo.token });
      expect(inTime.data!.rateTicket).toMatchObject({ __typename: 'TicketRating' });
      const shown = await w.exec(TicketRating, { id: second.id }, { token: cleo.token });
      const deadline = new Date(shown.data!.ticket.ratableUntil!).getTime();
      // Wait for the clock to pass the deadline the API gave (a condition, not a guess).
      await until(() => Date.now() > deadline + 50, 10_000);
      const late = await w.exec(Rate, { input: { ticketId: second.id, score: 5 } }, { token: cleo.token });
      expect(late.data!.rateTicket).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN', message: expect.stringContaining('passed') });
      expect((await w.exec(TicketRating, { id: second.id }, { token: cleo.token })).data!.ticket.rating).toBeNull();
    } finally {
      await w.close();
    }
  });
});
