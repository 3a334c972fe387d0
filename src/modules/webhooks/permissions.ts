/**
 * Who may do what with webhooks: staff of the workspace (ADMIN, AGENT) and its API keys see its
 * endpoints and delivery log; admins and API keys register, change, rotate, delete and redeliver.
 * Anything of another workspace is NOT_FOUND.
 */
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { ADMIN_ROLES, canAccessWorkspace, STAFF_ROLES } from '../../graphql/permissions.js';

export type Need = 'read' | 'manage';

/** Checks the viewer's standing in a workspace: NOT_FOUND unless staff, FORBIDDEN to manage unless admin. */
export function requireIn(ctx: Context, workspaceId: string, need: Need): void {
  if (!canAccessWorkspace(ctx.viewer, { workspaceId, roles: STAFF_ROLES })) throw new NotFoundError('Workspace');
  if (need === 'manage' && !canAccessWorkspace(ctx.viewer, { workspaceId, roles: ADMIN_ROLES })) {
    throw new ForbiddenError('Only admins and API keys of the workspace may manage its webhooks.');
  }
}

export function webhookWorkspace(ctx: Context, raw: string | number, need: Need): string {
  const id = parseId(raw, 'Workspace');
  requireIn(ctx, id, need);
  return id;
}

/** An endpoint the viewer may see (or manage); NOT_FOUND for any other. */
export async function endpointFor(ctx: Context, raw: string | number, need: Need): Promise<{ id: string; workspaceId: string }> {
  const id = parseId(raw, 'WebhookEndpoint');
  const endpoint = await ctx.db.webhookEndpoint.findUnique({ where: { id }, select: { id: true, workspaceId: true } });
  if (!endpoint || !canAccessWorkspace(ctx.viewer, { workspaceId: endpoint.workspaceId, roles: STAFF_ROLES })) throw new NotFoundError('WebhookEndpoint');
  requireIn(ctx, endpoint.workspaceId, need);
  return endpoint;
}
