/**
 * The support desk over real HTTP and graphql-ws: topics, line managers, tickets and routing,
 * closing and reopening, manual take and transfer, every legacy 002 operation with an API key,
 * workspace isolation, and bad input that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphql } from './gql/index.js';
import { collect, startTestApp, type TestApp } from './helpers/app.js';
import { guest, workspace } from './helpers/fixtures.js';
import { apiKey, closeTicket, CloseTicketDoc, CreateLineManagerDoc, lineManager, openTicket, OpenTicketDoc, product } from './helpers/support.js';

const CreateTopic = graphql(`
  mutation SupportCreateTopic($input: CreateSupportTopicInput!) {
    createSupportTopic(input: $input) {
      __typename
      ... on SupportTopic {
        id
        name
        archived
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const RenameTopic = graphql(`
  mutation SupportRenameTopic($id: ID!, $name: String!) {
    renameSupportTopic(id: $id, name: $name) {
      __typename
      ... on SupportTopic {
        id
        name
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const ArchiveTopic = graphql(`
  mutation SupportArchiveTopic($id: ID!, $archived: Boolean) {
    archiveSupportTopic(id: $id, archived: $archived) {
      __typename
      ... on SupportTopic {
        id
        archived
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const Topics = graphql(`
  query SupportTopics($workspaceId: ID!, $includeArchived: Boolean) {
    supportTopics(workspaceId: $workspaceId, includeArchived: $includeArchived) {
      id
      name
      archived
    }
  }
`);

const LineManagers = graphql(`
  query SupportLineManagers($workspaceId: ID!) {
    lineManagers(workspaceId: $workspaceId) {
      id
      positionInLine
      capacity
      openTicketCount
      averageServingSeconds
      servedTicketCount
      active
      user {
        id
      }
    }
  }
`);

const LineManagerQuery = graphql(`
  query SupportLineManager($id: ID!) {
    lineManager(id: $id) {
      id
    }
  }
`);

const UpdateLineManager = graphql(`
  mutation SupportUpdateLineManager($input: UpdateLineManagerInput!) {
    updateLineManager(input: $input) {
      __typename
      ... on LineManager {
        id
        capacity
        positionInLine
        active
        openTicketCount
      }
      ... on ValidationError {
        issues {
          path
          message
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const TicketQuery = graphql(`
  query SupportTicket($id: ID!) {
    ticket(id: $id) {
      id
      kind
      status
      priority
      closeNote
      reopenCount
      queuePosition
      lastSeq
      lineManager {
        id
        openTicketCount
      }
      customer {
        id
      }
      messages(first: 50) {
        nodes {
          seq
          body
          side
          author {
            id
          }
          replyTo {
            id
          }
        }
      }
      urgency {
        score
        urgent
      }
    }
  }
`);

const Tickets = graphql(`
  query SupportTickets($workspaceId: ID!, $productSlug: String, $status: TicketStatus) {
    tickets(workspaceId: $workspaceId, productSlug: $productSlug, status: $status) {
      nodes {
        id
        status
        product {
          slug
        }
      }
    }
  }
`);

const MyTickets = graphql(`
  query SupportMyTickets {
    myTickets {
      nodes {
        id
        status
      }
    }
  }
`);

const SendTicketMessage = graphql(`
  mutation SupportSendTicketMessage($input: SendTicketMessageInput!) {
    sendTicketMessage(input: $input) {
      __typename
      ... on Message {
        id
        seq
        body
        side
        author {
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

const SendMessage = graphql(`
  mutation SupportSendMessage($input: SendMessageInput!) {
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

const Reopen = graphql(`
  mutation SupportReopen($id: ID!) {
    reopenTicket(id: $id) {
      __typename
      ... on Ticket {
        id
        status
        reopenCount
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

const Take = graphql(`
  mutation SupportTake($id: ID!, $lineManagerId: ID) {
    takeTicket(id: $id, lineManagerId: $lineManagerId) {
      __typename
      ... on Ticket {
        id
        status
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

const Transfer = graphql(`
  mutation SupportTransfer($id: ID!, $lineManagerId: ID!) {
    transferTicket(id: $id, lineManagerId: $lineManagerId) {
      __typename
      ... on Ticket {
        id
        status
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

const UpdateTicket = graphql(`
  mutation SupportUpdateTicket($input: UpdateTicketInput!) {
    updateTicket(input: $input) {
      __typename
      ... on Ticket {
        id
        priority
        urgency {
          score
          priorityPoints
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

const TicketEvents = graphql(`
  subscription SupportTicketEventsMain($ticketId: ID!) {
    ticketEvents(ticketId: $ticketId) {
      type
      status
      position
      agent {
        id
      }
      note
      version
    }
  }
`);

const QueueEvents = graphql(`
  subscription SupportQueueEventsMain($workspaceId: ID!) {
    supportQueueEvents(workspaceId: $workspaceId) {
      type
      conversationId
      lineManagerOpenTickets
      ticket {
        status
        agentUserId
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

const db = () => t.app.services.db;

/** A workspace with two agents and a customer, a product, and an API key. */
async function desk() {
  const ws = await workspace(t, { ann: 'AGENT', ben: 'AGENT', cus: 'CLIENT' });
  const key = await apiKey(t, ws.id, ws.admin.token);
  const prod = await product(t, ws.admin.token, ws.id);
  return { ws, key, prod, ann: ws.people.ann!, ben: ws.people.ben!, cus: ws.people.cus! };
}

describe('topics', () => {
  it('creates, lists, renames and archives topics per workspace', async () => {
    const { ws, cus, ann } = await desk();
    const billing = (await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: 'Billing' } }, { token: ws.admin.token })).data!.createSupportTopic;
    expect(billing).toMatchObject({ __typename: 'SupportTopic', name: 'Billing', archived: false });
    if (billing.__typename !== 'SupportTopic') return;
    await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: 'Access' } }, { token: ws.admin.token });
    const dup = await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: 'Billing' } }, { token: ws.admin.token });
    expect(dup.data!.createSupportTopic).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    const byAgent = await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: 'Agents' } }, { token: ann.token });
    expect(byAgent.data!.createSupportTopic).toMatchObject({ __typename: 'ForbiddenError' });

    const renamed = await t.exec(RenameTopic, { id: billing.id, name: 'Payments' }, { token: ws.admin.token });
    expect(renamed.data!.renameSupportTopic).toMatchObject({ name: 'Payments' });
    const archived = await t.exec(ArchiveTopic, { id: billing.id }, { token: ws.admin.token });
    expect(archived.data!.archiveSupportTopic).toMatchObject({ archived: true });

    // Customers see the active topics; staff may ask for the archived ones too.
    const forCustomer = await t.exec(Topics, { workspaceId: ws.id, includeArchived: true }, { token: cus.token });
    expect(forCustomer.data!.supportTopics.map((x) => x.name)).toEqual(['Access']);
    const forStaff = await t.exec(Topics, { workspaceId: ws.id, includeArchived: true }, { token: ann.token });
    expect(forStaff.data!.supportTopics.map((x) => x.name)).toEqual(['Access', 'Payments']);

    const restored = await t.exec(ArchiveTopic, { id: billing.id, archived: false }, { token: ws.admin.token });
    expect(restored.data!.archiveSupportTopic).toMatchObject({ archived: false });
  });
});

describe('line managers and routing', () => {
  it('routes each ticket to the line manager with the fewest open tickets, ties by position in line, then queues', async () => {
    const { ws, prod, ann, ben, cus } = await desk();
    const benLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ben.id, positionInLine: 2, capacity: 2 });
    const annLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, positionInLine: 1, capacity: 1 });
    const list = await t.exec(LineManagers, { workspaceId: ws.id }, { token: ann.token });
    expect(list.data!.lineManagers.map((l) => l.id)).toEqual([annLm, benLm]);

    const first = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(first).toMatchObject({ status: 'ASSIGNED', lineManager: { id: annLm }, customer: { id: cus.id } }); // tie at 0: Ann is first in line
    const second = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(second.lineManager?.id).toBe(benLm); // Ann has 1, Ben 0
    const third = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(third.lineManager?.id).toBe(benLm); // Ann is full
    const fourth = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(fourth).toMatchObject({ status: 'OPEN', lineManager: null, queuePosition: 1 });

    const counts = await t.exec(LineManagers, { workspaceId: ws.id }, { token: ws.admin.token });
    expect(counts.data!.lineManagers.map((l) => l.openTicketCount)).toEqual([1, 2]);

    // More room takes the queued ticket at once.
    const grown = await t.exec(UpdateLineManager, { input: { id: annLm, capacity: 2 } }, { token: ws.admin.token });
    expect(grown.data!.updateLineManager).toMatchObject({ capacity: 2, openTicketCount: 2 });
    const after = await t.exec(TicketQuery, { id: fourth.id }, { token: cus.token });
    expect(after.data!.ticket).toMatchObject({ status: 'ASSIGNED', lineManager: { id: annLm }, queuePosition: null });
  });

  it('closes with a note by the assigned line manager, measures serving time, and gives the next in queue its turn', async () => {
    const { ws, prod, ann, ben, cus } = await desk();
    const annLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, capacity: 1 });
    const a = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    const b = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(b.status).toBe('OPEN');

    const client = t.ws({ token: cus.token });
    const sub = collect(client, TicketEvents, { ticketId: a.id });
    await sub.next(1);

    const byBen = await closeTicket(t, ben.token, a.id);
    expect(byBen).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect(byBen.__typename !== 'Ticket' && byBen.message).toMatch(/assigned to ann/);
    const byCustomer = await closeTicket(t, cus.token, a.id);
    expect(byCustomer).toMatchObject({ __typename: 'ForbiddenError' });

    const closed = await closeTicket(t, ann.token, a.id, 'Reset the password.');
    expect(closed).toMatchObject({ __typename: 'Ticket', status: 'CLOSED', closeNote: 'Reset the password.' });
    const [snapshot, closedEvent] = await sub.next(2);
    expect(snapshot!.data!.ticketEvents).toMatchObject({ type: 'SNAPSHOT', status: 'ASSIGNED', agent: { id: ann.id } });
    expect(closedEvent!.data!.ticketEvents).toMatchObject({ type: 'CLOSED', status: 'CLOSED', note: 'Reset the password.' });

    const lm = await db().lineManager.findUniqueOrThrow({ where: { id: annLm } });
    expect(lm).toMatchObject({ openTicketCount: 1, servedTicketCount: 1 });
    expect(lm.servingSecondsTotal).toBeGreaterThan(0);
    const next = await t.exec(TicketQuery, { id: b.id }, { token: cus.token });
    expect(next.data!.ticket).toMatchObject({ status: 'ASSIGNED', lineManager: { id: annLm } });

    // Closing twice is refused and changes nothing.
    const again = await closeTicket(t, ws.admin.token, a.id, 'again');
    expect(again).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', message: 'This ticket is already closed.' });
    expect((await db().supportTicket.findUniqueOrThrow({ where: { conversationId: a.id } })).closeNote).toBe('Reset the password.');
    expect((await db().lineManager.findUniqueOrThrow({ where: { id: annLm } })).servedTicketCount).toBe(1);

    // A closed ticket takes no messages until reopened.
    const late = await t.exec(SendMessage, { input: { conversationId: a.id, body: 'one more thing' } }, { token: cus.token });
    expect(late.data!.sendMessage).toMatchObject({ code: 'CONFLICT' });
    const reopened = await t.exec(Reopen, { id: a.id }, { token: cus.token });
    expect(reopened.data!.reopenTicket).toMatchObject({ __typename: 'Ticket', status: 'OPEN', reopenCount: 1, lineManager: null });
    const reopenedAgain = await t.exec(Reopen, { id: a.id }, { token: cus.token });
    expect(reopenedAgain.data!.reopenTicket).toMatchObject({ __typename: 'ConflictError' });
    const [reopenEvent] = (await sub.next(3)).slice(2);
    expect(reopenEvent!.data!.ticketEvents).toMatchObject({ type: 'REOPENED', status: 'OPEN' });
    const sent = await t.exec(SendMessage, { input: { conversationId: a.id, body: 'one more thing' } }, { token: cus.token });
    expect(sent.data!.sendMessage).toMatchObject({ __typename: 'Message' });
  });

  it('lets a line manager take a queued ticket and transfer it, within capacity', async () => {
    const { ws, prod, ann, ben, cus } = await desk();
    const annLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, capacity: 1 });
    await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    const queued = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    expect(queued.status).toBe('OPEN');
    const full = await t.exec(Take, { id: queued.id }, { token: ann.token });
    expect(full.data!.takeTicket).toMatchObject({ __typename: 'ConflictError' });
    expect(full.data!.takeTicket.__typename !== 'Ticket' && full.data!.takeTicket.message).toMatch(/at capacity \(1 of 1/);
    const notLm = await t.exec(Take, { id: queued.id }, { token: ben.token });
    expect(notLm.data!.takeTicket).toMatchObject({ __typename: 'ForbiddenError' });

    const benLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ben.id, capacity: 0 });
    await t.exec(UpdateLineManager, { input: { id: benLm, capacity: 1 } }, { token: ws.admin.token });
    const took = await t.exec(TicketQuery, { id: queued.id }, { token: ben.token });
    expect(took.data!.ticket).toMatchObject({ status: 'ASSIGNED', lineManager: { id: benLm } });

    const third = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    await t.exec(UpdateLineManager, { input: { id: annLm, capacity: 2 } }, { token: ws.admin.token });
    const moveToFull = await t.exec(Transfer, { id: third.id, lineManagerId: benLm }, { token: ann.token });
    expect(moveToFull.data!.transferTicket).toMatchObject({ __typename: 'ConflictError' });
    await t.exec(UpdateLineManager, { input: { id: benLm, capacity: 3 } }, { token: ws.admin.token });
    const byBen = await t.exec(Transfer, { id: third.id, lineManagerId: benLm }, { token: ben.token });
    expect(byBen.data!.transferTicket).toMatchObject({ __typename: 'ForbiddenError' });
    const moved = await t.exec(Transfer, { id: third.id, lineManagerId: benLm }, { token: ann.token });
    expect(moved.data!.transferTicket).toMatchObject({ __typename: 'Ticket', lineManager: { id: benLm } });
    const lms = await db().lineManager.findMany({ where: { workspaceId: ws.id }, orderBy: { positionInLine: 'asc' } });
    for (const lm of lms) {
      const open = await db().supportTicket.count({ where: { lineManagerId: lm.id, status: { in: ['ASSIGNED', 'WAITING'] } } });
      expect(lm.openTicketCount).toBe(open);
    }
  });

  it('keeps the ticket’s messages in the conversation pipeline, WAITING on the customer once answered', async () => {
    const { ws, prod, ann, cus } = await desk();
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id });
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id, message: 'My invoice is wrong' });
    const client = t.ws({ token: cus.token });
    const sub = collect(client, TicketEvents, { ticketId: ticket.id });
    await sub.next(1);
    const answer = await t.exec(SendMessage, { input: { conversationId: ticket.id, body: 'Looking into it' } }, { token: ann.token });
    expect(answer.data!.sendMessage).toMatchObject({ seq: 2 });
    const [, waiting] = await sub.next(2);
    expect(waiting!.data!.ticketEvents).toMatchObject({ type: 'STATUS_CHANGED', status: 'WAITING' });
    await t.exec(SendMessage, { input: { conversationId: ticket.id, body: 'Thanks' } }, { token: cus.token });
    const [, , back] = await sub.next(3);
    expect(back!.data!.ticketEvents).toMatchObject({ type: 'STATUS_CHANGED', status: 'ASSIGNED' });
    const read = await t.exec(TicketQuery, { id: ticket.id }, { token: cus.token });
    expect(read.data!.ticket.messages.nodes.map((m) => [m.seq, m.body, m.side])).toEqual([
      [1, 'My invoice is wrong', 'LEFT'],
      [2, 'Looking into it', null],
      [3, 'Thanks', null],
    ]);
    expect(read.data!.ticket.urgency).toBeNull(); // customers don't see urgency
  });

  it('lets a guest open a ticket and follow it', async () => {
    const { ws, prod, ann } = await desk();
    const visitor = await guest(t, ws.id, 'session-support-1');
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id });
    const ticket = await openTicket(t, visitor.token, { workspaceId: ws.id, productSlug: prod.slug, message: 'hello' });
    expect(ticket).toMatchObject({ status: 'ASSIGNED', customer: { id: visitor.id } });
    const mine = await t.exec(MyTickets, {}, { token: visitor.token });
    expect(mine.data!.myTickets.nodes.map((n) => n.id)).toEqual([ticket.id]);
    // Another visitor of the same workspace cannot see it.
    const other = await guest(t, ws.id, 'session-support-2');
    const peek = await t.exec(TicketQuery, { id: ticket.id }, { token: other.token });
    expect(peek.errors![0]).toMatchObject({ extensions: { code: 'NOT_FOUND' } });
  });
});

describe('legacy 002 with an API key', () => {
  it('runs every legacy support operation as a server-to-server caller', async () => {
    const { ws, key, prod, ann, cus } = await desk();
    const queue = collect(t.ws({ token: key }), QueueEvents, { workspaceId: ws.id });
    await queue.next(1); // READY: live from here on
    // create_topic, get_all_topics
    const topic = (await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: 'Login' } }, { token: key })).data!.createSupportTopic;
    if (topic.__typename !== 'SupportTopic') throw new Error(JSON.stringify(topic));
    expect((await t.exec(Topics, { workspaceId: ws.id }, { token: key })).data!.supportTopics.map((x) => x.name)).toEqual(['Login']);
    // create_line_manager (with a seeded average serving time), get_all_line_managers
    const created = await t.exec(
      CreateLineManagerDoc,
      { input: { workspaceId: ws.id, userId: ann.id, positionInLine: 1, averageServingSeconds: 120 } },
      { token: key },
    );
    expect(created.data!.createLineManager).toMatchObject({ __typename: 'LineManager', positionInLine: 1, openTicketCount: 0, averageServingSeconds: 120 });
    const lms = (await t.exec(LineManagers, { workspaceId: ws.id }, { token: key })).data!.lineManagers;
    expect(lms).toHaveLength(1);
    // create_ticket: on behalf of a user of the workspace (user_id → asUserId)
    const noUser = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id, productSlug: prod.slug } }, { token: key });
    expect(noUser.data!.openTicket).toMatchObject({ __typename: 'ValidationError' });
    const ticket = await openTicket(t, key, { workspaceId: ws.id, productSlug: prod.slug, topicId: topic.id, asUserId: cus.id });
    expect(ticket).toMatchObject({ status: 'ASSIGNED', customer: { id: cus.id }, topic: { name: 'Login' }, product: { slug: prod.slug } });
    // ticket_message_event: as the customer, then as the agent replying to it (reply_to)
    const asCustomer = await t.exec(SendTicketMessage, { input: { ticketId: ticket.id, body: 'I cannot log in', asUserId: cus.id } }, { token: key });
    const first = asCustomer.data!.sendTicketMessage;
    expect(first).toMatchObject({ __typename: 'Message', seq: 1, side: 'LEFT', author: { id: cus.id } });
    if (first.__typename !== 'Message') return;
    const asAgent = await t.exec(
      SendTicketMessage,
      { input: { ticketId: ticket.id, body: 'Try again now', asUserId: ann.id, replyToId: first.id } },
      { token: key },
    );
    expect(asAgent.data!.sendTicketMessage).toMatchObject({ __typename: 'Message', seq: 2, side: 'RIGHT', author: { id: ann.id } });
    const stranger = await workspace(t, { zed: 'CLIENT' });
    const foreignUser = await t.exec(SendTicketMessage, { input: { ticketId: ticket.id, body: 'x', asUserId: stranger.people.zed!.id } }, { token: key });
    expect(foreignUser.data!.sendTicketMessage).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    // get_ticket_messages
    const read = await t.exec(TicketQuery, { id: ticket.id }, { token: key });
    expect(read.data!.ticket.messages.nodes.map((m) => [m.body, m.author?.id, m.replyTo?.id ?? null])).toEqual([
      ['I cannot log in', cus.id, null],
      ['Try again now', ann.id, first.id],
    ]);
    // get_tickets by product
    const other = await product(t, ws.admin.token, ws.id);
    await openTicket(t, key, { workspaceId: ws.id, productId: other.id, asUserId: cus.id });
    const byProduct = await t.exec(Tickets, { workspaceId: ws.id, productSlug: prod.slug }, { token: key });
    expect(byProduct.data!.tickets.nodes.map((n) => n.id)).toEqual([ticket.id]);
    // close_ticket naming the line manager
    const wrongLm = await t.exec(
      graphql(`
        mutation SupportCloseWithLm($input: CloseTicketInput!) {
          closeTicket(input: $input) {
            __typename
            ... on Error {
              code
              message
            }
          }
        }
      `),
      { input: { ticketId: ticket.id, lineManagerId: '00000000-0000-4000-8000-000000000000' } },
      { token: key },
    );
    expect(wrongLm.data!.closeTicket).toMatchObject({ __typename: 'ForbiddenError' });
    const closed = await t.exec(
      CloseTicketDoc,
      { input: { ticketId: ticket.id, lineManagerId: lms[0]!.id, note: 'Solved' } },
      { token: key },
    );
    expect(closed.data!.closeTicket).toMatchObject({ __typename: 'Ticket', status: 'CLOSED', closeNote: 'Solved' });
    const closedList = await t.exec(Tickets, { workspaceId: ws.id, status: 'CLOSED' }, { token: key });
    expect(closedList.data!.tickets.nodes.map((n) => n.id)).toEqual([ticket.id]);
    // The key's queue subscription saw the ticket's life.
    const types = (await queue.next(6)).map((r) => r.data!.supportQueueEvents.type);
    expect(types.slice(0, 3)).toEqual(['READY', 'TICKET_OPENED', 'TICKET_ASSIGNED']);
  });
});

describe('isolation', () => {
  it('answers an API key of workspace A with NOT_FOUND for workspace B’s tickets, topics and line managers', async () => {
    const a = await desk();
    const b = await desk();
    const bLm = await lineManager(t, b.ws.admin.token, { workspaceId: b.ws.id, userId: b.ann.id });
    const bTopic = (await t.exec(CreateTopic, { input: { workspaceId: b.ws.id, name: 'Secret' } }, { token: b.key })).data!.createSupportTopic;
    if (bTopic.__typename !== 'SupportTopic') throw new Error('topic');
    const bTicket = await openTicket(t, b.cus.token, { workspaceId: b.ws.id, productId: b.prod.id, message: 'private' });
    const before = await db().supportTicket.findUniqueOrThrow({ where: { conversationId: bTicket.id } });

    const key = a.key;
    const notFound = { extensions: { code: 'NOT_FOUND' } };
    expect((await t.exec(TicketQuery, { id: bTicket.id }, { token: key })).errors![0]).toMatchObject(notFound);
    expect((await t.exec(Tickets, { workspaceId: b.ws.id }, { token: key })).errors![0]).toMatchObject(notFound);
    expect((await t.exec(Topics, { workspaceId: b.ws.id }, { token: key })).errors![0]).toMatchObject(notFound);
    expect((await t.exec(LineManagers, { workspaceId: b.ws.id }, { token: key })).errors![0]).toMatchObject(notFound);
    expect((await t.exec(LineManagerQuery, { id: bLm }, { token: key })).errors![0]).toMatchObject(notFound);

    const nf = { code: 'NOT_FOUND' };
    expect((await t.exec(RenameTopic, { id: bTopic.id, name: 'Mine' }, { token: key })).data!.renameSupportTopic).toMatchObject(nf);
    expect((await t.exec(ArchiveTopic, { id: bTopic.id }, { token: key })).data!.archiveSupportTopic).toMatchObject(nf);
    expect((await t.exec(CreateTopic, { input: { workspaceId: b.ws.id, name: 'X' } }, { token: key })).data!.createSupportTopic).toMatchObject(nf);
    expect((await t.exec(UpdateLineManager, { input: { id: bLm, capacity: 0 } }, { token: key })).data!.updateLineManager).toMatchObject(nf);
    expect(
      (await t.exec(CreateLineManagerDoc, { input: { workspaceId: b.ws.id, userId: b.ben.id } }, { token: key })).data!.createLineManager,
    ).toMatchObject(nf);
    expect((await closeTicket(t, key, bTicket.id, 'gotcha'))).toMatchObject(nf);
    expect((await t.exec(Reopen, { id: bTicket.id }, { token: key })).data!.reopenTicket).toMatchObject(nf);
    expect((await t.exec(Take, { id: bTicket.id, lineManagerId: bLm }, { token: key })).data!.takeTicket).toMatchObject(nf);
    expect((await t.exec(UpdateTicket, { input: { ticketId: bTicket.id, priority: 'URGENT' } }, { token: key })).data!.updateTicket).toMatchObject(nf);
    expect(
      (await t.exec(SendTicketMessage, { input: { ticketId: bTicket.id, body: 'hi', asUserId: b.cus.id } }, { token: key })).data!.sendTicketMessage,
    ).toMatchObject(nf);
    expect(
      (await t.exec(OpenTicketDoc, { input: { workspaceId: b.ws.id, productId: b.prod.id, asUserId: b.cus.id } }, { token: key })).data!.openTicket,
    ).toMatchObject(nf);
    // A's key cannot open a ticket in A for B's product or user either.
    expect(
      (await t.exec(OpenTicketDoc, { input: { workspaceId: a.ws.id, productId: b.prod.id, asUserId: a.cus.id } }, { token: key })).data!.openTicket,
    ).toMatchObject({ __typename: 'NotFoundError', message: 'Product not found.' });
    const events = collect(t.ws({ token: key }), TicketEvents, { ticketId: bTicket.id });
    await events.completed;
    expect(events.results[0]?.errors?.[0]).toMatchObject(notFound);
    const queue = collect(t.ws({ token: key }), QueueEvents, { workspaceId: b.ws.id });
    await queue.completed;
    expect(queue.results[0]?.errors?.[0]).toMatchObject(notFound);

    // Nothing of B changed.
    expect(await db().supportTicket.findUniqueOrThrow({ where: { conversationId: bTicket.id } })).toEqual(before);
    expect(await db().supportTopic.findUniqueOrThrow({ where: { id: bTopic.id } })).toMatchObject({ name: 'Secret', archivedAt: null });
    expect(await db().lineManager.findUniqueOrThrow({ where: { id: bLm } })).toMatchObject({ capacity: 10 });
    expect(await db().supportTicket.count({ where: { workspaceId: b.ws.id } })).toBe(1);
    expect(await db().message.count({ where: { conversationId: bTicket.id } })).toBe(1);
  });
});

describe('bad input', () => {
  it('refuses with a clear error and changes nothing', async () => {
    const { ws, prod, ann, ben, cus, key } = await desk();
    const annLm = await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id, capacity: 1 });
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ben.id, capacity: 0 });
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    const snapshot = async () => ({
      tickets: await db().supportTicket.findMany({ where: { workspaceId: ws.id }, orderBy: { queueNumber: 'asc' } }),
      lms: await db().lineManager.findMany({ where: { workspaceId: ws.id }, orderBy: { positionInLine: 'asc' } }),
      topics: await db().supportTopic.count({ where: { workspaceId: ws.id } }),
      conversations: await db().conversation.count({ where: { workspaceId: ws.id } }),
      desk: await db().supportDesk.findUnique({ where: { workspaceId: ws.id } }),
    });
    const before = await snapshot();

    // Closing someone else's ticket.
    const others = await closeTicket(t, ben.token, ticket.id, 'not mine');
    expect(others).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect(others.__typename !== 'Ticket' && others.message).toContain(`line manager ${annLm}`);
    // An unknown product, by id and by slug, and an unknown topic.
    const unknownProduct = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id, productId: '5b1f4c1e-0000-4000-8000-000000000001' } }, { token: cus.token });
    expect(unknownProduct.data!.openTicket).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', message: 'Product not found.' });
    const unknownSlug = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id, productSlug: 'no-such-product' } }, { token: cus.token });
    expect(unknownSlug.data!.openTicket).toMatchObject({ __typename: 'NotFoundError', message: 'No product "no-such-product" in this workspace.' });
    const unknownTopic = await t.exec(
      OpenTicketDoc,
      { input: { workspaceId: ws.id, productId: prod.id, topicId: '5b1f4c1e-0000-4000-8000-000000000002' } },
      { token: cus.token },
    );
    expect(unknownTopic.data!.openTicket).toMatchObject({ __typename: 'NotFoundError', message: 'SupportTopic not found.' });
    const noProduct = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id } }, { token: cus.token });
    expect(noProduct.data!.openTicket).toMatchObject({ __typename: 'ValidationError' });
    const emptyMessage = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id, productId: prod.id, message: '   ' } }, { token: cus.token });
    expect(emptyMessage.data!.openTicket).toMatchObject({ __typename: 'ValidationError' });
    const asOther = await t.exec(OpenTicketDoc, { input: { workspaceId: ws.id, productId: prod.id, asUserId: ann.id } }, { token: cus.token });
    expect(asOther.data!.openTicket).toMatchObject({ __typename: 'ForbiddenError', message: 'asUserId is for API keys only; you act as yourself.' });
    // A negative capacity, at creation and on update.
    const negative = await t.exec(UpdateLineManager, { input: { id: annLm, capacity: -1 } }, { token: ws.admin.token });
    expect(negative.data!.updateLineManager).toMatchObject({
      __typename: 'ValidationError',
      code: 'BAD_USER_INPUT',
      issues: [{ path: ['input', 'capacity'], message: 'must not be negative' }],
    });
    const negativeNew = await t.exec(CreateLineManagerDoc, { input: { workspaceId: ws.id, userId: ws.admin.id, capacity: -5 } }, { token: key });
    expect(negativeNew.data!.createLineManager).toMatchObject({ __typename: 'ValidationError', code: 'BAD_USER_INPUT' });
    const customerLm = await t.exec(CreateLineManagerDoc, { input: { workspaceId: ws.id, userId: cus.id } }, { token: key });
    expect(customerLm.data!.createLineManager).toMatchObject({ __typename: 'ValidationError', message: expect.stringContaining('admin or agent') });
    const twice = await t.exec(CreateLineManagerDoc, { input: { workspaceId: ws.id, userId: ann.id } }, { token: key });
    expect(twice.data!.createLineManager).toMatchObject({ __typename: 'ConflictError' });
    // A topic without a name.
    const blank = await t.exec(CreateTopic, { input: { workspaceId: ws.id, name: '  ' } }, { token: key });
    expect(blank.data!.createSupportTopic).toMatchObject({ __typename: 'ValidationError' });

    expect(await snapshot()).toEqual(before);

    // Closing a closed ticket.
    await closeTicket(t, ann.token, ticket.id, 'done');
    const closedBefore = await snapshot();
    const twiceClosed = await closeTicket(t, ws.admin.token, ticket.id, 'done again');
    expect(twiceClosed).toMatchObject({ __typename: 'ConflictError', message: 'This ticket is already closed.' });
    expect(await snapshot()).toEqual(closedBefore);
  });
});

describe('priority', () => {
  it('lets staff change a ticket’s priority, and urgency follows', async () => {
    const { ws, prod, ann, cus } = await desk();
    await lineManager(t, ws.admin.token, { workspaceId: ws.id, userId: ann.id });
    const ticket = await openTicket(t, cus.token, { workspaceId: ws.id, productId: prod.id });
    const byCustomer = await t.exec(UpdateTicket, { input: { ticketId: ticket.id, priority: 'URGENT' } }, { token: cus.token });
    expect(byCustomer.data!.updateTicket).toMatchObject({ __typename: 'ForbiddenError' });
    const raised = await t.exec(UpdateTicket, { input: { ticketId: ticket.id, priority: 'HIGH' } }, { token: ann.token });
    expect(raised.data!.updateTicket).toMatchObject({ priority: 'HIGH', urgency: { priorityPoints: 30 } });
  });
});
