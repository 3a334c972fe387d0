/**
 * Who is acting and what they may do in a workspace: the rules every module shares (a person,
 * staff, an admin, access to a workspace's objects). A module's own rules live beside its
 * resolvers and are built from these.
 */
import type { Role } from '../generated/prisma/enums.js';
import { actingUserId, roleIn, type Viewer } from '../auth/viewer.js';
import type { Context } from './context.js';
import { ForbiddenError, NotFoundError, ValidationError } from './errors.js';
import { parseId } from './ids.js';

/** The roles that serve a workspace (answer customers, see internal notes). */
export const STAFF_ROLES: readonly Role[] = ['ADMIN', 'AGENT'];
/** The roles that manage a workspace (members, settings, keys). */
export const ADMIN_ROLES: readonly Role[] = ['ADMIN'];

/**
 * The person acting (a user, or a guest), or FORBIDDEN for an API key, which acts for a workspace,
 * not a person; `refusal` says what only a person may do.
 */
export function requirePerson(
  viewer: Viewer,
  refusal = 'Only a signed-in user or guest can do this; API keys act for a workspace, not a person.',
): string {
  const id = actingUserId(viewer);
  if (!id) throw new ForbiddenError(refusal);
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

/** A user named by an API key to act for (`asUserId`), as the client sent it. */
export type AsUserId = string | number | null | undefined;

/**
 * Who an operation acts as: the one acting-as rule of every operation that takes `asUserId`.
 * Users and guests act as themselves, and an `asUserId` naming anyone else is refused. An API key
 * acts for a workspace, not a person, so it names the person with `asUserId` (`missing` is what it
 * is told without one: each operation says why it needs a person). `named` is true when an API
 * key named someone: the caller then checks that person's standing (see {@link standingOf}),
 * where a viewer's own is known from their credential.
 */
export function actingAs(viewer: Viewer, asUserId: AsUserId, missing: () => Error): { userId: string; named: boolean } {
  if (viewer.kind === 'apiKey') {
    if (asUserId === null || asUserId === undefined) throw missing();
    return { userId: parseId(asUserId, 'User'), named: true };
  }
  const me = actingUserId(viewer);
  if (!me) throw new ForbiddenError('Sign in as a user or guest.');
  if (asUserId !== null && asUserId !== undefined && parseId(asUserId, 'User') !== me) {
    throw new ForbiddenError('asUserId is for API keys only; you act as yourself.');
  }
  return { userId: me, named: false };
}

/** A user's standing in a workspace: their role, GUEST for its visitors, null for strangers. */
export async function standingOf({ db }: Pick<Context, 'db'>, workspaceId: string, userId: string): Promise<Role | 'GUEST' | null> {
  const user = await db.user.findUnique({
    where: { id: userId },
    select: { kind: true, guestWorkspaceId: true, memberships: { where: { workspaceId }, select: { role: true } } },
  });
  if (!user) return null;
  if (user.kind === 'GUEST') return user.guestWorkspaceId === workspaceId ? 'GUEST' : null;
  return user.memberships[0]?.role ?? null;
}

/**
 * The person an operation acts as in a workspace, with their standing there ({@link actingAs}):
 * messages, tickets and claims belong to people, and legacy 002 names them by user_id. A person
 * named by an API key who is not of the workspace is NOT_FOUND; so is a workspace the viewer has
 * no role in. Without `asUserId`, an API key is told so at `path` (a form's field).
 */
export async function actingPerson(
  ctx: Context,
  workspaceId: string,
  asUserId: AsUserId,
  path: string[],
): Promise<{ userId: string; standing: Role | 'GUEST' }> {
  const { userId, named } = actingAs(ctx.viewer, asUserId, () => new ValidationError([{ path, message: 'an API key acts on behalf of a user: name them with asUserId' }]));
  if (named) {
    const standing = await standingOf(ctx, workspaceId, userId);
    if (!standing) throw new NotFoundError('User');
    return { userId, standing };
  }
  const role = roleIn(ctx.viewer, workspaceId);
  if (!role) throw new NotFoundError('Workspace');
  return { userId, standing: ctx.viewer.kind === 'guest' ? 'GUEST' : role };
}
