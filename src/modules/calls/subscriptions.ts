import { builder } from '../../graphql/builder.js';
import { callStream } from './stream.js';
import { CallEventRef } from './types.js';

builder.subscriptionFields((t) => ({
  callEvents: t.field({
    type: CallEventRef,
    description:
      'The viewer’s call events on this device: incoming calls with their offer, the answer to a call placed here, ICE candidates, and ends with their reason. ' +
      'On subscribing, what this device must know is replayed first: a call ringing for the viewer as INCOMING (so a device connecting late rings too), ' +
      'a call placed from this device as RINGING or ACCEPTED; then events arrive live, each state event once (by `call.version`). ' +
      'Name the device with `deviceId` when its mutations go over HTTP; over graphql-ws the connection is the device.',
    args: {
      deviceId: t.arg.string({
        required: false,
        description: 'This device’s id (any stable string up to 100 characters); pass the same to startCall and answerCall.',
      }),
      callId: t.arg.id({ required: false, description: 'Only this call’s events (NOT_FOUND unless the viewer is a party to it).' }),
    },
    subscribe: (_root, args, ctx) => callStream(ctx, { deviceId: args.deviceId, callId: args.callId }),
    resolve: (event) => event,
  }),
}));
