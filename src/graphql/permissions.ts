/** Workspace-level rules shared by every module; a module's own rules live beside its resolvers. */
import type { Role } from '../generated/prisma/enums.js';
import { roleIn, type Viewer } from '../auth/viewer.js';
import { NotFoundError } from './errors.js';

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
