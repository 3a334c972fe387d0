import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { canAccessWorkspace, STAFF_ROLES } from '../../graphql/permissions.js';
import { endpointFor, webhookWorkspace } from './permissions.js';
import { WebhookDeliveryRef, WebhookDeliveryStatusEnum, WebhookEndpointRef } from './types.js';

builder.queryFields((t) => ({
  webhookEndpoints: t.prismaField({
    type: [WebhookEndpointRef],
    description: 'The workspace’s webhook endpoints, oldest first. Staff and API keys of the workspace.',
    args: { workspaceId: t.arg.id({ description: 'The workspace.' }) },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = webhookWorkspace(ctx, args.workspaceId, 'read');
      return ctx.db.webhookEndpoint.findMany({ ...query, where: { workspaceId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    },
  }),
  webhookEndpoint: t.prismaField({
    type: WebhookEndpointRef,
    description: 'One webhook endpoint. Staff and API keys of its workspace; NOT_FOUND for anyone else.',
    args: { id: t.arg.id({ description: 'The endpoint.' }) },
    resolve: async (query, _root, args, ctx) => {
      const { id } = await endpointFor(ctx, args.id, 'read');
      return ctx.db.webhookEndpoint.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  webhookDeliveries: t.prismaField({
    type: [WebhookDeliveryRef],
    description:
      'The delivery log of an endpoint, newest first: each event sent (or to be sent) to it, its status and its attempts. Page with ' +
      '`after` (the last id of the previous page). Staff and API keys of its workspace.',
    args: {
      endpointId: t.arg.id({ description: 'The endpoint.' }),
      status: t.arg({ type: WebhookDeliveryStatusEnum, required: false, description: 'Only deliveries in this status.' }),
      first: t.arg.int({
        required: false,
        defaultValue: 50,
        description: 'How many, at most 100.',
        validate: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'),
      }),
      after: t.arg.id({ required: false, description: 'A delivery id: the page starts after it.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const endpoint = await endpointFor(ctx, args.endpointId, 'read');
      let cursor: { createdAt: Date; id: string } | null = null;
      if (args.after) {
        const id = parseId(args.after, 'WebhookDelivery');
        cursor = await ctx.db.webhookDelivery.findFirst({ where: { id, endpointId: endpoint.id }, select: { createdAt: true, id: true } });
        if (!cursor) throw new NotFoundError('WebhookDelivery');
      }
      return ctx.db.webhookDelivery.findMany({
        ...query,
        where: {
          endpointId: endpoint.id,
          ...(args.status ? { status: args.status } : {}),
          ...(cursor ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] } : {}),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: args.first ?? 50,
      });
    },
  }),
  webhookDelivery: t.prismaField({
    type: WebhookDeliveryRef,
    description: 'One delivery with its attempts. Staff and API keys of its workspace; NOT_FOUND for anyone else.',
    args: { id: t.arg.id({ description: 'The delivery.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(args.id, 'WebhookDelivery');
      const found = await ctx.db.webhookDelivery.findUnique({ where: { id }, select: { endpoint: { select: { workspaceId: true } } } });
      if (!found || !canAccessWorkspace(ctx.viewer, { workspaceId: found.endpoint.workspaceId, roles: STAFF_ROLES })) throw new NotFoundError('WebhookDelivery');
      return ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));
