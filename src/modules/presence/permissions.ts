/**
 * Whose presence a viewer may see in a workspace:
 * - staff (ADMIN, AGENT; API keys): everyone of the workspace, its website visitors included;
 * - clients and visitors: the workspace's staff, themselves, and whoever shares a conversation
 *   with them there.
 * Anyone else is NOT_FOUND, as if they did not exist.
 */
import { actingUserId, roleIn } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import { isStaff } from '../../graphql/permissions.js';

/** Throws NOT_FOUND for the workspace when the viewer is not in it. */
export function assertInWorkspace(ctx: Context, workspaceId: string): void {
  if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
}

/** The ids among `userIds` whose presence the viewer may see (one query). */
export async function visibleUsers(ctx: Context, workspaceId: string, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const me = actingUserId(ctx.viewer);
  const rows = await ctx.db.user.findMany({
    where: {
      id: { in: [...userIds] },
      OR: isStaff(ctx.viewer, workspaceId)
        ? [{ memberships: { some: { workspaceId } } }, { guestWorkspaceId: workspaceId }]
        : [
            ...(me ? [{ id: me }] : []),
            { memberships: { some: { workspaceId, role: { in: ['ADMIN', 'AGENT'] } } } },
            ...(me
              ? [{ conversationMemberships: { some: { conversation: { workspaceId, members: { some: { userId: me } } } } } }]
              : []),
          ],
    },
    select: { id: true },
  });
  return new Set(rows.map((r) => r.id));
}

/** For a client or visitor watching live: the non-staff users they share a conversation with (at most `limit`). */
export async function companions(ctx: Context, workspaceId: string, limit: number): Promise<Set<string>> {
  const me = actingUserId(ctx.viewer);
  if (!me) return new Set();
  const rows = await ctx.db.conversationMember.findMany({
    where: { conversation: { workspaceId, members: { some: { userId: me } } } },
    select: { userId: true },
    distinct: ['userId'],
    take: limit,
  });
  return new Set([me, ...rows.map((r) => r.userId)]);
}
