/**
 * Reactions (the mutations are in reaction-mutations.ts): one row per (message, user, emoji), so a second identical reaction changes nothing.
 * Each add or remove is a change of the conversation's stream (changes.ts): in its transaction the
 * message's `reactionSummary` (count and first reactors per emoji) is recomputed under the
 * conversation's row lock, so two people reacting at once each get their row and the counts are
 * right; events and history carry the summary, so fan-out reads nothing per subscriber.
 */
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { loadAccess } from './permissions.js';
import { seesNotes } from './visibility.js';
import { FIRST_REACTORS, type ReactionSummaryRecord } from './records.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { requirePerson } from '../../graphql/permissions.js';

export const MAX_REACTORS_PAGE = 100;

/** A single Unicode emoji (RGI: skin tones, flags and sequences included), or a :shortcode:. */
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const SHORTCODE = /^:[a-z0-9_+-]{1,32}:$/;

export const emoji = z
  .string()
  .trim()
  .refine((e) => RGI_EMOJI.test(e) || SHORTCODE.test(e), 'must be one emoji (e.g. 👍) or a :shortcode: of a-z, 0-9, _ + - (at most 32)');

/** The message a person reacts to: readable by them (a note only by staff: NOT_FOUND to others), not deleted. */
export async function reactable(ctx: Context, rawId: string | number) {
  const me = requirePerson(ctx.viewer);
  const id = parseId(rawId, 'Message');
  const message = await ctx.db.message.findUnique({ where: { id }, select: { id: true, conversationId: true, deletedAt: true, kind: true, visibility: true } });
  if (!message) throw new NotFoundError('Message');
  const access = await loadAccess(ctx, message.conversationId).catch(() => {
    throw new NotFoundError('Message');
  });
  const workspaceId = access.conversation.workspaceId;
  // A note is as unknown to a customer as an id that does not exist.
  if (message.visibility === 'INTERNAL' && !seesNotes(ctx.viewer, workspaceId)) throw new NotFoundError('Message');
  if (message.deletedAt) throw new ValidationError([{ path: ['messageId'], message: 'the message was deleted; it takes no reactions' }]);
  return { me, message, workspaceId };
}

/** Recomputes a message's summary from its reaction rows (inside the change's transaction). */
export async function summarise(tx: Prisma.TransactionClient, messageId: string): Promise<void> {
  await tx.$executeRaw`
    UPDATE "Message" m SET "reactionSummary" = COALESCE((
      SELECT jsonb_agg(jsonb_build_object('emoji', e.emoji, 'count', e.count, 'userIds', to_jsonb(e."userIds")) ORDER BY e.first, e.emoji)
      FROM (
        SELECT emoji, count(*)::int AS count, min("createdAt") AS first,
               (array_agg("userId"::text ORDER BY "createdAt", "userId"))[1:${FIRST_REACTORS}::int] AS "userIds"
        FROM "Reaction" WHERE "messageId" = ${messageId}::uuid GROUP BY emoji
      ) e), '[]'::jsonb)
    WHERE m.id = ${messageId}::uuid`;
}

/**
 * Whether a user reacted: read from the summary when it lists every reactor of the emoji or
 * names the user (always, for up to FIRST_REACTORS reactors); otherwise one query.
 */
export async function reactedBy(ctx: Context, r: ReactionSummaryRecord & { messageId: string }, userId: string | null): Promise<boolean> {
  if (!userId) return false;
  if (r.userIds.includes(userId)) return true;
  if (r.count <= r.userIds.length) return false;
  return (await ctx.db.reaction.count({ where: { messageId: r.messageId, emoji: r.emoji, userId } })) > 0;
}

interface ReactorPage {
  userIds: string[];
  endCursor: string | null;
  hasNextPage: boolean;
}

export const ReactorPageRef = builder.objectRef<ReactorPage>('ReactorPage').implement({
  description: 'A page of the people who reacted with one emoji, earliest first.',
  fields: (t) => ({
    userIds: t.exposeIDList('userIds', { description: 'Their user ids.' }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Pass as `after` for the next page; null when there is none.' }),
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether more follow.' }),
  }),
});

export async function reactorPage(ctx: Context, messageId: string, emojiValue: string, first: number, after: string | null): Promise<ReactorPage> {
  const take = Math.min(Math.max(first, 1), MAX_REACTORS_PAGE);
  let skip = 0;
  if (after !== null) {
    skip = Number(Buffer.from(after, 'base64url').toString('utf8').replace(/^reactors:/, ''));
    if (!Number.isInteger(skip) || skip < 0) throw new NotFoundError('Cursor', 'The cursor is not one this API gave out.');
  }
  const rows = await ctx.db.reaction.findMany({
    where: { messageId, emoji: emojiValue },
    orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }],
    skip,
    take: take + 1,
    select: { userId: true },
  });
  const hasNextPage = rows.length > take;
  const userIds = rows.slice(0, take).map((r) => r.userId);
  return { userIds, hasNextPage, endCursor: hasNextPage ? Buffer.from(`reactors:${skip + take}`).toString('base64url') : null };
}

