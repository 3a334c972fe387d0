/** Presence in GraphQL: a status per user, and the events that change it. */
import { builder } from '../../graphql/builder.js';
import type { PresenceState } from './tracker.js';
import type { PresenceEvent } from './topics.js';

export const PresenceStatusEnum = builder.enumType('PresenceStatus', {
  description: 'Whether someone is there. Ephemeral: it lapses on its own and is never stored as a message.',
  values: {
    ONLINE: { description: 'Connected (a live graphql-ws connection).' },
    AWAY: { description: 'Connected, but said they are away (setPresence).' },
    OFFLINE: { description: 'No live connection: the last one closed, or its instance stopped renewing it.' },
  } as const,
});

export const UserPresenceRef = builder.objectRef<PresenceState>('UserPresence').implement({
  description: 'Someone’s presence now.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The user.' }),
    status: t.field({ type: PresenceStatusEnum, description: 'Online, away or offline.', resolve: (p) => p.status }),
    lastSeenAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When they were last seen online (now while online); null when never seen, or not for 30 days.',
      resolve: (p) => p.lastSeenAt,
    }),
  }),
});

export const PresenceEventRef = builder.objectRef<PresenceEvent>('PresenceEvent').implement({
  description: 'Someone’s presence changed.',
  fields: (t) => ({
    userId: t.exposeID('userId', { description: 'The user.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace watched.' }),
    status: t.field({ type: PresenceStatusEnum, description: 'Their status now.', resolve: (p) => p.status }),
    lastSeenAt: t.field({ type: 'DateTime', nullable: true, description: 'When they were last seen online.', resolve: (p) => p.lastSeenAt }),
    at: t.field({ type: 'DateTime', description: 'When it changed.', resolve: (p) => p.at }),
  }),
});
