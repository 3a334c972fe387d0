/**
 * Who may do what at the support desk:
 * - staff (ADMIN, AGENT) and API keys of a workspace see its queue, tickets and line managers;
 * - admins and API keys manage topics and line managers, and may close or transfer any ticket;
 * - a line manager closes and transfers the tickets assigned to them;
 * - a customer (user or guest) opens tickets and sees their own.
 * Anything of another workspace is NOT_FOUND, exactly as if it did not exist.
 */
import type { Role } from '../../generated/prisma/enums.js';
import { actingUserId, roleIn } from '../../auth/viewer.js';
import type { Context, Services } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { canAccessWorkspace, isAdmin, isStaff } from '../../graphql/permissions.js';
import { loadAccess, type Access } from '../conversations/permissions.js';

/** A workspace id the viewer serves as staff (or an API key of it); NOT_FOUND otherwise. */
export function staffWorkspace(ctx: Context, raw: string | number): string {
  const id = parseId(raw, 'Workspace');
  if (!isStaff(ctx.viewer, id)) throw new NotFoundError('Workspace');
  return id;
}

/** A workspace id the viewer administers (or an API key of it); NOT_FOUND otherwise. */
export function adminWorkspace(ctx: Context, raw: string | number): string {
  const id = parseId(raw, 'Workspace');
  if (!canAccessWorkspace(ctx.viewer, { workspaceId: id })) throw new NotFoundError('Workspace');
  if (!isAdmin(ctx.viewer, id)) throw new ForbiddenError('Only admins and API keys of the workspace may do this.');
  return id;
}

/** A workspace id the viewer belongs to in any role, guests included; NOT_FOUND otherwise. */
export function memberWorkspace(ctx: Context, raw: string | number): string {
  const id = parseId(raw, 'Workspace');
  if (!canAccessWorkspace(ctx.viewer, { workspaceId: id, guests: true })) throw new NotFoundError('Workspace');
  return id;
}

/** A user's standing in a workspace: their role, GUEST for its visitors, null for strangers. */
export async function standingOf(services: Services, workspaceId: string, userId: string): Promise<Role | 'GUEST' | null> {
  const user = await services.db.user.findUnique({
    where: { id: userId },
    select: { kind: true, guestWorkspaceId: true, memberships: { where: { workspaceId }, select: { role: true } } },
  });
  if (!user) return null;
  if (user.kind === 'GUEST') return user.guestWorkspaceId === workspaceId ? 'GUEST' : null;
  return user.memberships[0]?.role ?? null;
}

/**
 * The person an operation acts as. Users and guests act as themselves; an API key names a user
 * of its workspace with `asUserId` (legacy 002 sends user_id), since messages, tickets and claims
 * belong to people. `asUserId` from anyone but an API key is refused.
 */
export async function actingPerson(
  ctx: Context,
  workspaceId: string,
  asUserId: string | number | null | undefined,
  path: string[],
): Promise<{ userId: string; standing: Role | 'GUEST' }> {
  if (ctx.viewer.kind === 'apiKey') {
    if (asUserId === null || asUserId === undefined) {
      throw new ValidationError([{ path, message: 'an API key acts on behalf of a user: name them with asUserId' }]);
    }
    const userId = parseId(asUserId, 'User');
    const standing = await standingOf(ctx, workspaceId, userId);
    if (!standing) throw new NotFoundError('User');
    return { userId, standing };
  }
  const me = actingUserId(ctx.viewer);
  if (!me) throw new ForbiddenError('Sign in as a user or guest.');
  if (asUserId !== null && asUserId !== undefined && parseId(asUserId, 'User') !== me) {
    throw new ForbiddenError('asUserId is for API keys only; you act as yourself.');
  }
  const role = roleIn(ctx.viewer, workspaceId);
  if (!role) throw new NotFoundError('Workspace');
  return { userId: me, standing: ctx.viewer.kind === 'guest' ? 'GUEST' : role };
}

/** Loads a ticket the viewer may reach (its customer, staff, API keys); NOT_FOUND otherwise. */
export async function ticketAccess(ctx: Context, raw: string | number): Promise<Access> {
  parseId(raw, 'Ticket');
  const access = await loadAccess(ctx, raw).catch((err: unknown) => {
    if (err instanceof NotFoundError) throw new NotFoundError('Ticket');
    throw err;
  });
  if (access.conversation.kind !== 'TICKET') throw new NotFoundError('Ticket');
  return access;
}
