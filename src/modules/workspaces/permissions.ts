/** Who may do what in a workspace. */
import type { Viewer } from '../../auth/viewer.js';
import type { Role } from '../../generated/prisma/enums.js';
import type { WorkspaceEvent } from './topics.js';

/** Manage members, keys, products: admins (and API keys, which act as admins). */
export const MANAGE: readonly Role[] = ['ADMIN'];
/** See the workspace's staff-facing data (member list, admin product list). */
export const STAFF: readonly Role[] = ['ADMIN', 'AGENT'];

/**
 * Whether a workspace event takes the viewer's staff standing there away: they were removed or
 * made a client, or (an API key) the key was revoked. Staff-only subscriptions end on it.
 */
export function endsStaffStanding(viewer: Viewer, event: WorkspaceEvent): boolean {
  if (viewer.kind === 'apiKey') return event.type === 'API_KEY_REVOKED' && event.apiKeyId === viewer.apiKeyId;
  if (viewer.kind !== 'user' || event.userId !== viewer.userId) return false;
  return event.type === 'MEMBER_REMOVED' || (event.type === 'MEMBER_ROLE_CHANGED' && !STAFF.includes(event.role!));
}
