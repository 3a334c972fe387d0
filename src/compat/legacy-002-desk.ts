/**
 * Legacy 002's customer-support ticket system on the support module: topics and line managers
 * (`setting_response`), tickets (`ticket_response`) and ticket messages
 * (`ticket_message_response`). Every event carries workspace_id + api_key, checked against each
 * other; people are named by `user_id`, a product user's id as is, any other value one guest per
 * value. A socket that reads or writes a ticket's messages then receives its new messages live.
 */
import type { ExecutionResult } from 'graphql';
import {
  Legacy002CloseTicketDocument,
  Legacy002CreateLineManagerDocument,
  Legacy002CreateTopicDocument,
  Legacy002LineManagersDocument,
  Legacy002OpenTicketDocument,
  Legacy002SendTicketMessageDocument,
  Legacy002TicketDocument,
  Legacy002TicketMessagesDocument,
  Legacy002TicketsDocument,
  Legacy002TopicsDocument,
  type Legacy002LineManagerFragment,
  type Legacy002MessageFragment,
  type Legacy002TicketFragment,
  type Legacy002TicketMessagesQuery,
  type Legacy002TopicFragment,
} from './generated/graphql.js';
import {
  Bounded,
  dataOf,
  legacyId,
  number,
  Refusal,
  successOf,
  text,
  timestamp,
  userIdFor,
  type LegacyNames,
  type Payload,
  type Scope,
} from './legacy-002-common.js';
import type { Feeds, FollowSpec } from './legacy-002-feed.js';
import type { EventContext, Handler, LegacySocket } from './legacy-002-types.js';
import type { Executor } from './executor.js';
import { isUuid } from '../ids.js';

/** What the desk events need of the legacy 002 server (legacy-002.ts). */
export interface DeskHost {
  readonly names: LegacyNames;
  readonly feeds: Feeds;
  scopeFor(executor: Executor, workspaceId: string | undefined, apiKey: string | undefined): Promise<Scope>;
}

/** Lists are read a page at a time, up to this many items (the document sets no limit). */
const PAGE = 100;
const MAX_LISTED = 1000;

interface TicketContext {
  id: string;
  workspaceId: string;
  product: string | null;
}

function topic(t: Legacy002TopicFragment) {
  return { _id: t.id, name: t.name, workspace_id: t.workspaceId, created_at: timestamp(t.createdAt) };
}

function lineManager(l: Legacy002LineManagerFragment) {
  return {
    _id: l.id,
    user_id: l.user.id,
    positions_in_a_line: l.positionInLine,
    average_serving_time: l.averageServingSeconds ?? null,
    ticket_count: l.openTicketCount,
    capacity: l.capacity,
    workspace_id: l.workspaceId,
    created_at: timestamp(l.createdAt),
  };
}

function ticket(t: Legacy002TicketFragment) {
  return {
    _id: t.id,
    user_id: legacyId(t.customer),
    product: t.product?.slug ?? null,
    topic: t.topic?.name ?? null,
    workspace_id: t.workspaceId,
    line_manager: t.lineManager?.user.id ?? null,
    is_closed: t.status === 'CLOSED',
    status: t.status.toLowerCase(),
    position_in_line: t.queuePosition ?? null,
    waiting_time: t.estimatedWaitSeconds ?? null,
    created_at: timestamp(t.createdAt),
    closed_at: t.closedAt ? timestamp(t.closedAt) : null,
  };
}

function ticketMessage(context: TicketContext, m: Legacy002MessageFragment, isRead: boolean) {
  const author = legacyId(m.author);
  return {
    _id: m.id,
    ticket_id: context.id,
    product: context.product,
    message_data: m.deleted ? '' : m.body,
    user_id: author,
    author,
    reply_to: m.replyTo?.id ?? 'None',
    is_read: isRead,
    workspace_id: context.workspaceId,
    created_at: timestamp(m.createdAt),
  };
}

/** Legacy clients send "None" (Python's) or nothing for no reply. */
function replyTo(payload: Payload): string | undefined {
  const value = text(payload, 'reply_to', { max: 100 });
  return value && !['none', 'null', 'undefined'].includes(value.toLowerCase()) ? value : undefined;
}

export class Legacy002Desk {
  /** What a ticket's messages need to be shaped (its workspace and product do not change). */
  private readonly contexts = new Bounded<string, TicketContext>(10_000);

  constructor(private readonly legacy: DeskHost) {}

  handlers(): Record<string, Handler> {
    return {
      create_topic: (ctx) => this.createTopic(ctx),
      get_all_topics: (ctx) => this.topics(ctx),
      create_line_manager: (ctx) => this.createLineManager(ctx),
      get_all_line_managers: (ctx) => this.lineManagers(ctx),
      create_ticket: (ctx) => this.createTicket(ctx),
      get_tickets: (ctx) => this.tickets(ctx),
      close_ticket: (ctx) => this.closeTicket(ctx),
      ticket_message_event: (ctx) => this.sendTicketMessage(ctx),
      get_ticket_messages: (ctx) => this.ticketMessages(ctx),
    };
  }

  private scope(executor: Executor, payload: Payload): Promise<Scope> {
    return this.legacy.scopeFor(executor, text(payload, 'workspace_id', { max: 100 }), text(payload, 'api_key', { max: 200 }));
  }

  private async createTopic({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const name = text(payload, 'name', { required: true })!;
    const result = await executor.run(Legacy002CreateTopicDocument, { input: { workspaceId: scope.workspaceId, name } }, scope.credential);
    reply(topic(successOf(dataOf(result).createSupportTopic, 'SupportTopic')));
  }

  private async topics({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const result = await executor.run(Legacy002TopicsDocument, { workspaceId: scope.workspaceId }, scope.credential);
    reply(dataOf(result).supportTopics.map(topic));
  }

  private async createLineManager({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const userId = text(payload, 'user_id', { required: true })!;
    if (!isUuid(userId)) throw new Refusal('user_id must be the id of an admin or agent of the workspace');
    const position = number(payload, 'positions_in_a_line');
    if (position !== undefined && !Number.isInteger(position)) throw new Refusal('positions_in_a_line must be a whole number');
    const serving = number(payload, 'average_serving_time');
    const result = await executor.run(
      Legacy002CreateLineManagerDocument,
      {
        input: {
          workspaceId: scope.workspaceId,
          userId,
          ...(position !== undefined ? { positionInLine: position } : {}),
          ...(serving !== undefined ? { averageServingSeconds: serving } : {}),
        },
      },
      scope.credential,
    );
    reply(lineManager(successOf(dataOf(result).createLineManager, 'LineManager')));
  }

  private async lineManagers({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const result = await executor.run(Legacy002LineManagersDocument, { workspaceId: scope.workspaceId }, scope.credential);
    reply(dataOf(result).lineManagers.map(lineManager));
  }

  private async createTicket({ socket, state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const user = text(payload, 'user_id', { required: true, max: 100 })!;
    const product = text(payload, 'product', { required: true, max: 100 })!;
    const asUserId = await userIdFor(this.legacy.names, executor, scope, user);
    const result = await executor.run(Legacy002OpenTicketDocument, { input: { workspaceId: scope.workspaceId, productSlug: product, asUserId } }, scope.credential);
    const opened = successOf(dataOf(result).openTicket, 'Ticket');
    const context = this.remember(opened);
    // The customer's socket hears the answers, as the old server's ticket room did.
    this.follow(socket, scope, context, null, false);
    reply(ticket(opened));
  }

  private async tickets({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const product = text(payload, 'product', { max: 100 });
    const listed: Legacy002TicketFragment[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Awaited<ReturnType<typeof this.ticketsPage>> = await this.ticketsPage(executor, scope, product, after);
      listed.push(...page.nodes);
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor || listed.length >= MAX_LISTED) break;
      after = page.pageInfo.endCursor;
    }
    reply(listed.slice(0, MAX_LISTED).map(ticket));
  }

  private async ticketsPage(executor: Executor, scope: Scope, product: string | undefined, after: string | null) {
    const result = await executor.run(
      Legacy002TicketsDocument,
      { workspaceId: scope.workspaceId, productSlug: product ?? null, first: PAGE, after },
      scope.credential,
    );
    return dataOf(result).tickets;
  }

  /** A ticket of the scope's workspace (and of `product`, when the payload names one). */
  private async load(executor: Executor, scope: Scope, payload: Payload): Promise<Legacy002TicketFragment> {
    const id = text(payload, 'ticket_id', { required: true, max: 100 })!;
    const product = text(payload, 'product', { max: 100 });
    if (!isUuid(id)) throw new Refusal('Ticket not found');
    const found = (await executor.run(Legacy002TicketDocument, { id }, scope.credential)).data?.ticket;
    if (!found || found.workspaceId !== scope.workspaceId || (product && found.product?.slug !== product)) throw new Refusal('Ticket not found');
    this.remember(found);
    return found;
  }

  private remember(t: Legacy002TicketFragment): TicketContext {
    const context = { id: t.id, workspaceId: t.workspaceId, product: t.product?.slug ?? null };
    this.contexts.set(t.id, context);
    return context;
  }

  /** The shaping context of a ticket, from memory when this instance has seen it. */
  private async context(executor: Executor, scope: Scope, payload: Payload): Promise<TicketContext> {
    const id = text(payload, 'ticket_id', { required: true, max: 100 })!;
    const product = text(payload, 'product', { max: 100 });
    const known = this.contexts.get(id);
    if (known && known.workspaceId === scope.workspaceId && (!product || known.product === product)) return known;
    return this.remember(await this.load(executor, scope, payload));
  }

  private follow(socket: LegacySocket, scope: Scope, context: TicketContext, after: number | null, hold: boolean) {
    const spec: FollowSpec = {
      room: `ticket:${context.id}`,
      event: 'ticket_message_response',
      operation: 'ticket_message_event',
      format: (m) => ticketMessage(context, m, false),
      conversationId: context.id,
      after,
      credential: scope.credential,
      executor: socket.data.executor,
    };
    return this.legacy.feeds.follow(socket, spec, hold);
  }

  private async closeTicket({ state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const found = await this.load(executor, scope, payload);
    const named = text(payload, 'line_manager', { max: 100 });
    // Legacy clients name a line manager by its user_id; the product by the line manager's id.
    const assigned = found.lineManager;
    const lineManagerId = !named ? undefined : assigned && (named === assigned.id || named === assigned.user.id) ? assigned.id : named;
    const result = await executor.run(
      Legacy002CloseTicketDocument,
      { input: { ticketId: found.id, ...(lineManagerId ? { lineManagerId } : {}) } },
      scope.credential,
    );
    reply(ticket(successOf(dataOf(result).closeTicket, 'Ticket')));
  }

  private async sendTicketMessage({ socket, state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const context = await this.context(executor, scope, payload);
    const body = text(payload, 'message_data', { required: true, trim: false })!;
    const user = text(payload, 'user_id', { required: true, max: 100 })!;
    const asUserId = await userIdFor(this.legacy.names, executor, scope, user);
    const replyToId = replyTo(payload);
    const cancel = this.legacy.feeds.sending(`ticket:${context.id}`, asUserId, socket.id);
    let sent;
    try {
      const result = await executor.run(
        Legacy002SendTicketMessageDocument,
        { input: { ticketId: context.id, body, asUserId, ...(replyToId ? { replyToId } : {}) } },
        scope.credential,
      );
      sent = successOf(dataOf(result).sendTicketMessage, 'Message');
    } catch (err) {
      cancel();
      throw err;
    }
    this.follow(socket, scope, context, null, false);
    reply(ticketMessage(context, sent, false));
  }

  private async ticketMessages({ socket, state, payload, reply }: EventContext): Promise<void> {
    const { executor } = state;
    const scope = await this.scope(executor, payload);
    const found = await this.load(executor, scope, payload);
    const context = this.remember(found);
    const feed = this.follow(socket, scope, context, found.lastSeq, true);
    let upTo = found.lastSeq;
    try {
      const messages: Legacy002MessageFragment[] = [];
      let members: Array<{ lastReadSeq: number; user: { id: string } }> = [];
      let after: string | null = null;
      for (;;) {
        const result: ExecutionResult<Legacy002TicketMessagesQuery> = await executor.run(
          Legacy002TicketMessagesDocument,
          { id: found.id, first: PAGE, after },
          scope.credential,
        );
        const page = dataOf(result).ticket;
        members = page.members;
        messages.push(...page.messages.nodes);
        const info = page.messages.pageInfo;
        if (!info.hasNextPage || !info.endCursor || messages.length >= MAX_LISTED) break;
        after = info.endCursor;
      }
      upTo = messages.reduce((max, m) => Math.max(max, m.seq), found.lastSeq);
      const read = (m: Legacy002MessageFragment) => members.some((x) => x.user.id !== m.author?.id && x.lastReadSeq >= m.seq);
      reply(messages.filter((m) => !m.deleted).map((m) => ticketMessage(context, m, read(m))));
    } finally {
      feed.release(socket.id, upTo);
    }
  }
}
