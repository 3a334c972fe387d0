/** Call history: one call, and the viewer's calls (all, or those of one conversation). */
import { resolveCursorConnection, type DefaultConnectionArguments } from '@pothos/plugin-relay';
import { builder } from '../../graphql/builder.js';
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { callWorkspaces, loadCallForParty } from './permissions.js';
import { idArg } from '../../graphql/permissions.js';
import { callSelect, toCallRecord, type CallRecord } from './records.js';
import { CallRef } from './types.js';

const NO_USER = '00000000-0000-0000-0000-000000000000';

function toCursor(call: CallRecord): string {
  return Buffer.from(`${call.createdAt}|${call.id}`).toString('base64url');
}

function fromCursor(cursor: string | undefined): { createdAt: Date; id: string } | undefined {
  if (cursor === undefined) return undefined;
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw new NotFoundError('Cursor', 'The cursor is not one this API gave out.');
  return { createdAt, id: parseId(id, 'Cursor') };
}

/** The viewer's calls, newest first, as a cursor connection over (createdAt, id). */
function callPage(ctx: Context, conversationId: string | null, args: DefaultConnectionArguments) {
  const me = actingUserId(ctx.viewer) ?? NO_USER;
  return resolveCursorConnection<Promise<CallRecord[]>>(
    { args, toCursor, defaultSize: 20, maxSize: 100 },
    async ({ before, after, limit, inverted }): Promise<CallRecord[]> => {
      const older = fromCursor(after);
      const newer = fromCursor(before);
      const rows = await ctx.db.call.findMany({
        where: {
          workspaceId: { in: callWorkspaces(ctx.viewer) },
          participants: { some: { userId: me } },
          ...(conversationId ? { conversationId } : {}),
          AND: [
            older
              ? { OR: [{ createdAt: { lt: older.createdAt } }, { createdAt: older.createdAt, id: { lt: older.id } }] }
              : {},
            newer
              ? { OR: [{ createdAt: { gt: newer.createdAt } }, { createdAt: newer.createdAt, id: { gt: newer.id } }] }
              : {},
          ],
        },
        orderBy: inverted ? [{ createdAt: 'asc' }, { id: 'asc' }] : [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
        select: callSelect,
      });
      return rows.map(toCallRecord);
    },
  );
}

builder.queryFields((t) => ({
  call: t.withAuth((_root, args) => ({ callParty: idArg(args, 'id') })).field({
    type: CallRef,
    description: 'A call the viewer is a party to (its caller or a callee it rang). NOT_FOUND otherwise.',
    args: { id: t.arg.id({ description: 'The call’s id.' }) },
    resolve: async (_root, args, ctx) => toCallRecord((await loadCallForParty(ctx, args.id)).row),
  }),
  calls: t.connection({
    type: CallRef,
    description:
      'The viewer’s call history, newest first: every call they placed or were rung by; with `conversationId`, those of one conversation. ' +
      'At most 100 a page.',
    args: {
      conversationId: t.arg.id({ required: false, description: 'Only the calls of this conversation.' }),
    },
    resolve: (_root, args, ctx) =>
      callPage(ctx, args.conversationId ? parseId(args.conversationId, 'Conversation') : null, args) as never,
  }),
}));
