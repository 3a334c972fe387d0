import { builder } from '../../graphql/builder.js';
import { ValidationError } from '../../graphql/errors.js';
import { PresenceStatusEnum, UserPresenceRef } from './types.js';
import { requirePerson } from '../../graphql/permissions.js';

builder.mutationFields((t) => ({
  setPresence: t.field({
    type: UserPresenceRef,
    description:
      'Says the viewer is AWAY, or ONLINE again. It shows while they are connected and lapses with their connection; OFFLINE follows ' +
      'from closing every connection and cannot be set.',
    errors: { types: [ValidationError] },
    args: { status: t.arg({ type: PresenceStatusEnum, description: 'ONLINE or AWAY.' }) },
    resolve: (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      if (args.status === 'OFFLINE') {
        throw new ValidationError([{ path: ['status'], message: 'OFFLINE cannot be set: it follows from closing every connection' }]);
      }
      return ctx.presence.setAway(ctx.viewer, me, args.status === 'AWAY');
    },
  }),
}));
