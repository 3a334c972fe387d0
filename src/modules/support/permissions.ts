/**
 * Who may do what at the support desk:
 * - staff (ADMIN, AGENT) and API keys of a workspace see its queue, tickets and line managers;
 * - admins and API keys manage topics and line managers, and may close or transfer any ticket;
 * - a line manager closes and transfers the tickets assigned to them;
 * - a customer (user or guest) opens tickets and sees their own.
 * Anything of another workspace is NOT_FOUND, exactly as if it did not exist. Who acts (a person,
 * or the one an API key names with asUserId) is graphql/permissions.ts' (actingPerson, actingAs).
 */
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError } from '../../graphql/errors.js';
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
