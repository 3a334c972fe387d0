/**
 * Satisfaction ratings (CSAT). When a ticket closes, its customer may rate it, 1 to 5 with a
 * comment, once per closing (a reopened ticket closed again may be rated again), within
 * CSAT_RATING_WINDOW_SECONDS of the close. The rating records the line manager the ticket was
 * assigned to when it closed, so per line manager figures (count, average, per day, week or
 * month) are aggregates of rows computed by the database, exact whatever closes and ratings run
 * at once. Staff hear of each rating live on supportQueueEvents (TICKET_RATED).
 *
 * {@link recordRating} is the one place a rating is written: one transaction that locks the
 * ticket, checks it, and inserts the row. Anything that must happen with a rating atomically
 * (an outbox row for a `ticket.rated` webhook) belongs in that transaction.
 */
import { z } from 'zod';
import { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import type { Context, Services } from '../../graphql/context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { isUniqueViolation } from '../../db/errors.js';
import { UserRef } from '../users/types.js';
import { staffWorkspace, ticketAccess } from './permissions.js';
import type { SupportQueueEvent } from './topics.js';
import { LineManagerRef, TicketRef } from './types.js';
import { recordWebhookEvent, ticketData } from '../webhooks/events.js';
import { actingPerson, isStaff } from '../../graphql/permissions.js';

const MAX_COMMENT = 2000;

export interface RatingInput {
  ticketId: string;
  customerId: string;
  score: number;
  comment: string | null;
}

type RatingRow = Prisma.TicketRatingGetPayload<object>;

/**
 * Records a rating of a ticket's latest closing, in one transaction: the ticket row is locked
 * (so a reopen cannot slip between the check and the insert), it must be CLOSED, the rater its
 * customer, and the close within the window; the unique (ticket, closing) index makes a second
 * rating of the same closing CONFLICT, also when two arrive at once. Publishes TICKET_RATED after
 * the commit.
 */
export async function recordRating(services: Services, input: RatingInput): Promise<RatingRow> {
  const windowSeconds = services.config.CSAT_RATING_WINDOW_SECONDS;
  let rating: RatingRow;
  try {
    rating = await services.db.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM "SupportTicket" WHERE "conversationId" = ${input.ticketId}::uuid FOR UPDATE`;
      const ticket = await tx.supportTicket.findUnique({
        where: { conversationId: input.ticketId },
        select: { workspaceId: true, customerId: true, status: true, closedAt: true, reopenCount: true, lineManagerId: true },
      });
      if (!ticket) throw new NotFoundError('Ticket');
      if (ticket.customerId !== input.customerId) throw new ForbiddenError('Only the ticket’s customer rates it.');
      if (ticket.status !== 'CLOSED' || !ticket.closedAt) throw new ConflictError('This ticket is not closed; a ticket is rated once it closes.');
      if (windowSeconds <= 0) throw new ForbiddenError('Ratings are turned off in this deployment.');
      if (Date.now() - ticket.closedAt.getTime() > windowSeconds * 1000) {
        throw new ForbiddenError(`The time to rate this ticket has passed: ratings are taken within ${windowSeconds} seconds of the close.`);
      }
      const created = await tx.ticketRating.create({
        data: {
          conversationId: input.ticketId,
          workspaceId: ticket.workspaceId,
          closing: ticket.reopenCount,
          customerId: input.customerId,
          lineManagerId: ticket.lineManagerId,
          score: input.score,
          comment: input.comment,
          closedAt: ticket.closedAt,
        },
      });
      // The webhook event, in the same transaction and as its last write (webhooks/events.ts).
      await recordWebhookEvent(tx, {
        type: 'ticket.rated',
        workspaceId: ticket.workspaceId,
        conversationId: input.ticketId,
        data: ticketData(input.ticketId, {
          rating: { score: created.score, comment: created.comment, ratedAt: created.createdAt.toISOString(), customerId: created.customerId },
        }),
      });
      return created;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('This ticket is already rated; a closing is rated once.');
    throw err;
  }
  const event: SupportQueueEvent = {
    type: 'TICKET_RATED',
    workspaceId: rating.workspaceId,
    conversationId: rating.conversationId,
    ticket: null,
    lineManagerOpenTickets: null,
    urgency: null,
    claim: null,
    rating: {
      ratingId: rating.id,
      score: rating.score,
      comment: rating.comment,
      lineManagerId: rating.lineManagerId,
      customerId: rating.customerId,
      closedAt: rating.closedAt.toISOString(),
    },
    queueVersion: null,
    at: new Date().toISOString(),
  };
  await services.pubsub.publish('supportQueue', rating.workspaceId, event);
  return rating;
}

export const TicketRatingRef = builder.prismaObject('TicketRating', {
  description: 'A customer’s satisfaction rating (CSAT) of one closing of a ticket.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    ticketId: t.exposeID('conversationId', { description: 'The ticket rated.' }),
    score: t.exposeInt('score', { description: '1 (very dissatisfied) to 5 (very satisfied).' }),
    comment: t.exposeString('comment', { nullable: true, description: 'The customer’s comment, if any.' }),
    closing: t.exposeInt('closing', { description: 'Which closing it rates: 0 for the first, 1 after one reopen, …' }),
    customer: t.relation('customer', { type: UserRef, description: 'The customer who rated.' }),
    lineManager: t.relation('lineManager', { nullable: true, type: LineManagerRef, description: 'The line manager the ticket was assigned to when it closed.' }),
    closedAt: t.expose('closedAt', { type: 'DateTime', description: 'When the rated closing happened.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was rated.' }),
  }),
});

export const RatingPeriodEnum = builder.enumType('RatingPeriod', {
  description: 'How ratings are grouped over time (UTC).',
  values: {
    DAY: { description: 'Per calendar day.' },
    WEEK: { description: 'Per ISO week (from Monday).' },
    MONTH: { description: 'Per calendar month.' },
  } as const,
});

interface SummaryRow {
  lineManagerId: string | null;
  periodStart: Date | null;
  count: number;
  average: number | null;
}

const RatingSummaryRef = builder.objectRef<SummaryRow & { workspaceId: string }>('RatingSummary').implement({
  description: 'Satisfaction ratings summed up: for a line manager (or tickets closed unassigned), over a period or all time.',
  fields: (t) => ({
    lineManager: t.prismaField({
      type: LineManagerRef,
      nullable: true,
      description: 'The line manager; null for tickets closed while unassigned.',
      resolve: (query, s, _args, ctx) => (s.lineManagerId ? ctx.db.lineManager.findUnique({ ...query, where: { id: s.lineManagerId } }) : null),
    }),
    periodStart: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'The start of the period (UTC), when grouped by period; null for all time.',
      resolve: (s) => s.periodStart,
    }),
    count: t.exposeInt('count', { description: 'How many ratings.' }),
    average: t.exposeFloat('average', { nullable: true, description: 'Their average score (1 to 5); null with none.' }),
  }),
});

const RateTicketInput = builder.inputType('RateTicketInput', {
  description: 'A satisfaction rating of a closed ticket.',
  fields: (t) => ({
    ticketId: t.id({ description: 'The ticket.' }),
    score: t.int({ description: '1 (very dissatisfied) to 5 (very satisfied).', validate: z.number().int('must be a whole number').min(1, 'must be 1 to 5').max(5, 'must be 1 to 5') }),
    comment: t.string({ required: false, description: `What the customer says, up to ${MAX_COMMENT} characters.`, validate: z.string().max(MAX_COMMENT, `must be at most ${MAX_COMMENT} characters`) }),
    asUserId: t.id({ required: false, description: 'For API keys: the customer who rates (legacy user_id). Others rate as themselves.' }),
  }),
});

/** Per line manager (and period) figures, grouped in SQL so they are exact over every row. */
async function summaries(
  ctx: Context,
  workspaceId: string,
  args: { lineManagerId?: string | null; period?: 'DAY' | 'WEEK' | 'MONTH' | null; from?: Date | null; to?: Date | null },
): Promise<SummaryRow[]> {
  const unit = args.period === 'DAY' ? 'day' : args.period === 'WEEK' ? 'week' : args.period === 'MONTH' ? 'month' : null;
  const period = unit ? Prisma.sql`date_trunc(${unit}, r."createdAt" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'` : Prisma.sql`NULL::timestamptz`;
  const rows = await ctx.db.$queryRaw<Array<{ lineManagerId: string | null; periodStart: Date | null; count: bigint; average: number | null }>>`
    SELECT r."lineManagerId"::text AS "lineManagerId", ${period} AS "periodStart", count(*) AS count, avg(r.score)::float8 AS average
    FROM "TicketRating" r
    WHERE r."workspaceId" = ${workspaceId}::uuid
      ${args.lineManagerId ? Prisma.sql`AND r."lineManagerId" = ${args.lineManagerId}::uuid` : Prisma.empty}
      ${args.from ? Prisma.sql`AND r."createdAt" >= ${args.from}::timestamptz` : Prisma.empty}
      ${args.to ? Prisma.sql`AND r."createdAt" < ${args.to}::timestamptz` : Prisma.empty}
    GROUP BY 1, 2
    ORDER BY 2 NULLS FIRST, 1 NULLS LAST`;
  return rows.map((r) => ({ ...r, count: Number(r.count) }));
}

builder.prismaObjectFields(TicketRef, (t) => ({
  rating: t.prismaField({
    type: TicketRatingRef,
    nullable: true,
    description: 'The customer’s rating of its latest closing; null until rated (and while open).',
    select: { ticket: { select: { reopenCount: true, status: true } } },
    resolve: (query, c, _args, ctx) =>
      c.ticket?.status === 'CLOSED'
        ? ctx.db.ticketRating.findUnique({ ...query, where: { conversationId_closing: { conversationId: c.id, closing: c.ticket.reopenCount } } })
        : null,
  }),
  ratableUntil: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'While closed: until when its customer may rate this closing (CSAT_RATING_WINDOW_SECONDS after the close); null while open or with ratings off.',
    select: { ticket: { select: { closedAt: true, status: true } } },
    resolve: (c, _args, ctx) => {
      const windowSeconds = ctx.config.CSAT_RATING_WINDOW_SECONDS;
      if (c.ticket?.status !== 'CLOSED' || !c.ticket.closedAt || windowSeconds <= 0) return null;
      return new Date(c.ticket.closedAt.getTime() + windowSeconds * 1000);
    },
  }),
}));

builder.prismaObjectFields(LineManagerRef, (t) => ({
  satisfaction: t.field({
    type: RatingSummaryRef,
    description: 'Their satisfaction ratings over all time (or between `from` and `to`): count and average. Staff and API keys.',
    args: {
      from: t.arg({ type: 'DateTime', required: false, description: 'Ratings given at or after this time.' }),
      to: t.arg({ type: 'DateTime', required: false, description: 'Ratings given before this time.' }),
    },
    resolve: async (lm, args, ctx) => {
      if (!isStaff(ctx.viewer, lm.workspaceId)) throw new NotFoundError('LineManager');
      const [row] = await summaries(ctx, lm.workspaceId, { lineManagerId: lm.id, from: args.from, to: args.to });
      return { workspaceId: lm.workspaceId, lineManagerId: lm.id, periodStart: null, count: row?.count ?? 0, average: row?.average ?? null };
    },
  }),
}));

builder.queryFields((t) => ({
  ticketRatings: t.field({
    type: [RatingSummaryRef],
    description:
      'Satisfaction ratings of a workspace’s tickets per line manager (and per period when `period` is given): count and average, computed from ' +
      'every rating. Staff and API keys.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      lineManagerId: t.arg.id({ required: false, description: 'Only this line manager.' }),
      period: t.arg({ type: RatingPeriodEnum, required: false, description: 'Group by day, week or month (UTC); all time when omitted.' }),
      from: t.arg({ type: 'DateTime', required: false, description: 'Ratings given at or after this time.' }),
      to: t.arg({ type: 'DateTime', required: false, description: 'Ratings given before this time.' }),
    },
    resolve: async (_root, args, ctx) => {
      const workspaceId = staffWorkspace(ctx, args.workspaceId);
      const lineManagerId = args.lineManagerId != null ? parseId(args.lineManagerId, 'LineManager') : null;
      const rows = await summaries(ctx, workspaceId, { lineManagerId, period: args.period, from: args.from, to: args.to });
      return rows.map((r) => ({ ...r, workspaceId }));
    },
  }),
}));

builder.mutationFields((t) => ({
  rateTicket: t.prismaField({
    type: TicketRatingRef,
    description:
      'The customer rates a closed ticket, 1 to 5 with an optional comment, once per closing (again: CONFLICT), within ' +
      'CSAT_RATING_WINDOW_SECONDS of the close (after: FORBIDDEN). Staff hear of it on supportQueueEvents (TICKET_RATED). An API key rates as the customer it names.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: RateTicketInput, description: 'The rating; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const access = await ticketAccess(ctx, input.ticketId);
      const { userId } = await actingPerson(ctx, access.conversation.workspaceId, input.asUserId, ['input', 'asUserId']);
      const comment = input.comment?.trim() ? input.comment.trim() : null;
      const rating = await recordRating(ctx, { ticketId: access.conversation.id, customerId: userId, score: input.score, comment });
      return ctx.db.ticketRating.findUniqueOrThrow({ ...query, where: { id: rating.id } });
    },
  }),
}));
