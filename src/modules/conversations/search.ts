/**
 * Searching message text with PostgreSQL full-text search (the same SQL on PGlite): the words of
 * the query (websearch syntax: "quoted phrases", -excluded, or) against the English stems of each
 * live message, within the conversations the viewer may read (the rule of permissions.ts, here in
 * SQL so that paging counts only what the viewer may see). Deleted messages never match. The GIN
 * index of migration 20261121152628_chatbot_widget_and_search serves the match: keep the
 * expression and its predicate as they are written there. Internal notes match only for viewers
 * reading the staff view of their workspace; results are numbered in the viewer's numbering.
 */
import { resolveCursorConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { roleIn } from '../../auth/viewer.js';
import { loadAccess, readableScope } from './permissions.js';
import { messageSelect, toMessageRecord, type MessageRecord } from './records.js';
import { MessageRef } from './types.js';
import { asSeenBy, seesNotes } from './visibility.js';

/** Search pages hold at most this many messages. */
export const MAX_SEARCH_PAGE = 50;
const MAX_QUERY_LENGTH = 200;

interface Position {
  createdAt: string;
  id: string;
}

function cursorOf(m: MessageRecord): string {
  return Buffer.from(`search:${m.createdAt}|${m.id}`).toString('base64url');
}

function positionOf(cursor: string | null | undefined): Position | undefined {
  if (cursor == null) return undefined;
  const match = /^search:([^|]+)\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || Number.isNaN(Date.parse(match[1]!))) throw new NotFoundError('Cursor', 'The cursor is not one this API gave out.');
  return { createdAt: match[1]!, id: match[2]! };
}

const uuids = (ids: string[]) => Prisma.join(ids.map((id) => Prisma.sql`${id}::uuid`));

/** Ids of matching messages, newest first (oldest first when `inverted`), strictly between the positions. */
async function matchingIds(
  ctx: Context,
  text: string,
  scope: { workspaceId?: string; conversationId?: string },
  page: { after?: Position; before?: Position; limit: number; inverted: boolean },
): Promise<string[]> {
  const { userId, memberWorkspaces, staffWorkspaces } = readableScope(ctx.viewer);
  const readable: Prisma.Sql[] = [];
  if (userId && memberWorkspaces.length) {
    readable.push(Prisma.sql`(c."workspaceId" IN (${uuids(memberWorkspaces)}) AND EXISTS (
      SELECT 1 FROM "ConversationMember" cm WHERE cm."conversationId" = c."id" AND cm."userId" = ${userId}::uuid))`);
  }
  if (staffWorkspaces.length) {
    readable.push(Prisma.sql`(c."workspaceId" IN (${uuids(staffWorkspaces)}) AND c."direct" = false)`);
  }
  if (readable.length === 0) return [];
  // Internal notes match only where the viewer reads the staff view (visibility.ts).
  const noteWorkspaces = staffWorkspaces.filter((w) => seesNotes(ctx.viewer, w));
  const visible = noteWorkspaces.length
    ? Prisma.sql`AND (m."visibility" = 'PUBLIC' OR c."workspaceId" IN (${uuids(noteWorkspaces)}))`
    : Prisma.sql`AND m."visibility" = 'PUBLIC'`;
  // Newest first: "after" a cursor is older than it.
  const after = page.after ? Prisma.sql`AND (m."createdAt", m."id") < (${page.after.createdAt}::timestamptz, ${page.after.id}::uuid)` : Prisma.empty;
  const before = page.before ? Prisma.sql`AND (m."createdAt", m."id") > (${page.before.createdAt}::timestamptz, ${page.before.id}::uuid)` : Prisma.empty;
  const order = page.inverted ? Prisma.sql`m."createdAt" ASC, m."id" ASC` : Prisma.sql`m."createdAt" DESC, m."id" DESC`;
  const rows = await ctx.db.$queryRaw<{ id: string }[]>`
    SELECT m."id"::text AS "id"
    FROM "Message" m
    JOIN "Conversation" c ON c."id" = m."conversationId"
    WHERE m."deletedAt" IS NULL
      AND to_tsvector('english'::regconfig, m."body") @@ websearch_to_tsquery('english'::regconfig, ${text})
      AND (${Prisma.join(readable, ' OR ')})
      ${visible}
      ${scope.workspaceId ? Prisma.sql`AND c."workspaceId" = ${scope.workspaceId}::uuid` : Prisma.empty}
      ${scope.conversationId ? Prisma.sql`AND c."id" = ${scope.conversationId}::uuid` : Prisma.empty}
      ${after} ${before}
    ORDER BY ${order}
    LIMIT ${page.limit}`;
  return rows.map((r) => r.id);
}

builder.queryFields((t) => ({
  searchMessages: t.connection({
    type: MessageRef,
    description:
      'Messages whose text matches, newest first, within the conversations the viewer may read (optionally one workspace or one ' +
      'conversation). Web-search syntax: words (matched by their English stem), "quoted phrases", -excluded, or. Deleted messages never ' +
      `match. At most ${MAX_SEARCH_PAGE} a page.`,
    args: {
      query: t.arg.string({
        description: `The words to find, 1 to ${MAX_QUERY_LENGTH} characters.`,
        validate: z.string().trim().min(1, 'must not be empty').max(MAX_QUERY_LENGTH, `must be at most ${MAX_QUERY_LENGTH} characters`),
      }),
      workspaceId: t.arg.id({ required: false, description: 'Only this workspace.' }),
      conversationId: t.arg.id({ required: false, description: 'Only this conversation.' }),
    },
    resolve: async (_root, args, ctx) => {
      const scope: { workspaceId?: string; conversationId?: string } = {};
      if (args.workspaceId != null) {
        scope.workspaceId = parseId(args.workspaceId, 'Workspace');
        if (!roleIn(ctx.viewer, scope.workspaceId)) throw new NotFoundError('Workspace');
      }
      if (args.conversationId != null) scope.conversationId = (await loadAccess(ctx, args.conversationId)).conversation.id;
      const page = await resolveCursorConnection<Promise<MessageRecord[]>>(
        { args, toCursor: cursorOf, defaultSize: 20, maxSize: MAX_SEARCH_PAGE },
        async ({ before, after, limit, inverted }): Promise<MessageRecord[]> => {
          const ids = await matchingIds(ctx, args.query.trim(), scope, {
            after: positionOf(after),
            before: positionOf(before),
            limit,
            inverted,
          });
          if (ids.length === 0) return [];
          const rows = await ctx.db.message.findMany({ where: { id: { in: ids } }, select: { ...messageSelect, conversation: { select: { workspaceId: true } } } });
          const byId = new Map(rows.map((r) => [r.id, asSeenBy(ctx.viewer, r.conversation.workspaceId, toMessageRecord(r))]));
          // A message deleted between the two reads is left out.
          return ids.map((id) => byId.get(id)).filter((m): m is MessageRecord => m !== undefined && m.deletedAt === null);
        },
      );
      return page as typeof page & { edges: { cursor: string; node: MessageRecord }[] };
    },
  }),
}));
