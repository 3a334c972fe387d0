/**
 * Who is acting and what they may do in a workspace: the rules every module shares (a person,
 * staff, an admin, access to a workspace's objects). A module's own rules live beside its
 * resolvers and are built from these.
 */
import type { Role } from '../generated/prisma/enums.js';
import { actingUserId, roleIn, type Viewer } from '../auth/viewer.js';
import { ForbiddenError, NotFoundError } from './errors.js';

/** The roles that serve a workspace (answer customers, see internal notes). */
export const STAFF_ROLES: readonly Role[] = ['ADMIN', 'AGENT'];
/** The roles that manage a workspace (members, settings, keys). */
export const ADMIN_ROLES: readonly Role[] = ['ADMIN'];

/** The person acting (a user, or a guest), or FORBIDDEN for an API key, which acts for a workspace, not a person. */
export function requirePerson(viewer: Viewer): string {
  const id = actingUserId(viewer);
  if (!id) throw new ForbiddenError('Only a signed-in user or guest can do this; API keys act for a workspace, not a person.');
  return id;
}

/** Whether the viewer serves the workspace: ADMIN or AGENT (an API key acts as ADMIN; guests never). */
export function isStaff(viewer: Viewer, workspaceId: string): boolean {
  return canAccessWorkspace(viewer, { workspaceId, roles: STAFF_ROLES });
}

/** Whether the viewer manages the workspace: ADMIN (an API key acts as ADMIN). */
export function isAdmin(viewer: Viewer, workspaceId: string): boolean {
  return canAccessWorkspace(viewer, { workspaceId, roles: ADMIN_ROLES });
}

export interface WorkspaceAccess {
  workspaceId: string;
  /** Roles allowed; any role when omitted. */
  roles?: readonly Role[];
  /** Whether guests (website visitors, who count as CLIENT) are allowed. Default false. */
  guests?: boolean;
}

export function canAccessWorkspace(viewer: Viewer, access: WorkspaceAccess): boolean {
  const role = roleIn(viewer, access.workspaceId);
  if (!role) return false;
  if (viewer.kind === 'guest' && !access.guests) return false;
  return !access.roles || access.roles.includes(role);
}

/**
 * Guards an object fetched by id: it must belong to a workspace where the viewer has the access
 * asked for. Anything else is NOT_FOUND, exactly as if the id did not exist, so ids of other
 * workspaces cannot be probed.
 */
export function assertWorkspaceAccess<T extends { workspaceId: string }>(
  viewer: Viewer,
  entity: string,
  object: T | null | undefined,
  access: Omit<WorkspaceAccess, 'workspaceId'> = {},
): T {
  if (!object || !canAccessWorkspace(viewer, { ...access, workspaceId: object.workspaceId })) {
    throw new NotFoundError(entity);
  }
  return object;
}

/**
 * The id at `path` ("id", "input.conversationId") in a field's arguments as the client sent
 * them, for a parameterized scope: scopes run before input is validated, and refuse what cannot
 * be an id (NOT_FOUND).
 */
export function idArg(args: Record<string, unknown>, path: string): string | number | null {
  let value: unknown = args;
  for (const key of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' || typeof value === 'number' ? value : null;
}
