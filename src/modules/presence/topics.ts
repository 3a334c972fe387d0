/** Presence changes, published once per change on `presence:<workspaceId>` for each workspace of the user. */

export type PresenceStatus = 'ONLINE' | 'AWAY' | 'OFFLINE';

export interface PresenceEvent {
  userId: string;
  workspaceId: string;
  status: PresenceStatus;
  /** ISO; null when never seen. */
  lastSeenAt: string | null;
  /** Whether the user is staff (ADMIN, AGENT) of the workspace: staff are visible to everyone in it. */
  staff: boolean;
  /** ISO time of the change. */
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    presence: PresenceEvent;
  }
}
