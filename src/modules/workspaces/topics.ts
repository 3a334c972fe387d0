/** Events of a workspace's membership and credentials, published on `workspace:<workspaceId>`. */
import type { Role } from '../../generated/prisma/enums.js';

export type WorkspaceEventType = 'MEMBER_ADDED' | 'MEMBER_REMOVED' | 'MEMBER_ROLE_CHANGED' | 'API_KEY_ISSUED' | 'API_KEY_REVOKED';

export interface WorkspaceEvent {
  type: WorkspaceEventType;
  workspaceId: string;
  userId?: string;
  role?: Role;
  apiKeyId?: string;
  /** ISO time of the change. */
  at: string;
}

const WORKSPACE_EVENT_TYPES = new Set<string>([
  'MEMBER_ADDED',
  'MEMBER_REMOVED',
  'MEMBER_ROLE_CHANGED',
  'API_KEY_ISSUED',
  'API_KEY_REVOKED',
] satisfies WorkspaceEventType[]);

/** Tells a workspace event from another topic's, for a subscription that listens to both. */
export function isWorkspaceEvent(event: { type: string }): event is WorkspaceEvent {
  return WORKSPACE_EVENT_TYPES.has(event.type);
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    workspace: WorkspaceEvent;
  }
}
