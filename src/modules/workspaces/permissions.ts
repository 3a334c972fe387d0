/** Who may do what in a workspace. */
import type { Viewer } from '../../auth/viewer.js';
import type { WorkspaceEvent } from './topics.js';
import { STAFF_ROLES } from '../../graphql/permissions.js';

/**
 * Whether a workspace event takes the viewer's staff standing there away: they were removed or
 * made a client, or (an API key) the key was revoked. Staff-only subscriptions end on it.
 */
export function endsStaffStanding(viewer: Viewer, event: WorkspaceEvent): boolean {
  if (viewer.kind === 'apiKey') return event.type === 'API_KEY_REVOKED' && event.apiKeyId === viewer.apiKeyId;
  if (viewer.kind !== 'user' || event.userId !== viewer.userId) return false;
  return event.type === 'MEMBER_REMOVED' || (event.type === 'MEMBER_ROLE_CHANGED' && !STAFF_ROLES.includes(event.role!));
}
