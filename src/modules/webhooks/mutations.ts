import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { idArg } from '../../graphql/permissions.js';
import type { Context } from '../../graphql/context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { checkEndpointUrl } from './address.js';
import { endpointFor, requireIn, webhookWorkspace } from './permissions.js';
import { toWireName, WebhookDeliveryRef, WebhookEndpointRef, WebhookEndpointSecretRef, WebhookEventTypeEnum } from './types.js';

/** Endpoints one workspace may register. */
const MAX_ENDPOINTS = 20;

const urlArg = z.string().trim().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters');
const description = z.string().trim().max(500, 'must be at most 500 characters');
const eventTypes = z.array(z.string()).min(1, 'must name at least one event type');

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** Checks a URL for registration: refused as BAD_USER_INPUT on `path`, with the reason. */
async function allowedUrl(ctx: Context, raw: string, path: string[]): Promise<string> {
  const checked = await checkEndpointUrl(raw, {
    allowLoopback: ctx.config.WEBHOOK_ALLOW_LOOPBACK,
    httpsOnly: ctx.config.NODE_ENV === 'production',
  });
  if (!checked.ok) throw new ValidationError([{ path, message: checked.reason }]);
  return checked.url;
}

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  description: 'A new webhook endpoint.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace whose events it receives.' }),
    url: t.string({
      description:
        'Where to POST events: http or https (https only in production), no credentials in it. Its host must be a public address, or a ' +
        'name whose every address is public (loopback only with WEBHOOK_ALLOW_LOOPBACK); checked now and again at every delivery.',
      validate: urlArg,
    }),
    eventTypes: t.field({ type: [WebhookEventTypeEnum], description: 'The events it receives (at least one).', validate: eventTypes }),
    description: t.string({ required: false, description: 'What it is for (at most 500 characters).', validate: description }),
    enabled: t.boolean({ required: false, defaultValue: true, description: 'Whether it receives events from now on (default true).' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  description: 'Changes to a webhook endpoint; omitted fields stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The endpoint.' }),
    url: t.string({ required: false, description: 'A new URL (checked as at registration).', validate: urlArg }),
    eventTypes: t.field({
      type: [WebhookEventTypeEnum],
      required: false,
      description: 'The events it receives from now on (at least one); events already queued for it are still sent.',
      validate: eventTypes,
    }),
    description: t.string({ required: false, description: 'What it is for.', validate: description }),
    enabled: t.boolean({
      required: false,
      description: 'Disable to stop sending: events from then on are not recorded for it, and what was already queued waits until it is enabled again.',
    }),
  }),
});

const DeletedWebhookEndpointRef = builder.objectRef<{ id: string }>('DeletedWebhookEndpoint').implement({
  description: 'A webhook endpoint that was deleted, with its deliveries and their log.',
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id it had.' }) }),
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).field({
    type: WebhookEndpointSecretRef,
    description:
      'Registers a webhook endpoint and returns its signing secret, this once. Events of the chosen types that happen from now on are ' +
      'POSTed to it, signed (see the README, "Webhooks"). Admins and API keys of the workspace; at most 20 endpoints per workspace.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: CreateWebhookEndpointInput, description: 'The endpoint; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const workspaceId = webhookWorkspace(ctx, input.workspaceId, 'manage');
      const url = await allowedUrl(ctx, input.url, ['input', 'url']);
      const count = await ctx.db.webhookEndpoint.count({ where: { workspaceId } });
      if (count >= MAX_ENDPOINTS) throw new ConflictError(`This workspace already has ${MAX_ENDPOINTS} webhook endpoints; delete one first.`);
      const secret = newSecret();
      const created = await ctx.db.webhookEndpoint.create({
        data: {
          workspaceId,
          url,
          description: input.description || null,
          secret,
          eventTypes: [...new Set(input.eventTypes.map(toWireName))],
          enabled: input.enabled ?? true,
          createdById: ctx.viewer.kind === 'user' ? ctx.viewer.userId : null,
        },
        select: { id: true },
      });
      ctx.logger.info({ workspaceId, endpointId: created.id, host: new URL(url).host }, 'webhook endpoint registered');
      return { endpointId: created.id, secret };
    },
  }),
  updateWebhookEndpoint: t.prismaField({
    type: WebhookEndpointRef,
    description: 'Changes a webhook endpoint’s URL, events, description, or whether it is enabled. Admins and API keys of its workspace.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: UpdateWebhookEndpointInput, description: 'The changes; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const endpoint = await endpointFor(ctx, input.id, 'manage');
      const url = input.url ? await allowedUrl(ctx, input.url, ['input', 'url']) : undefined;
      const updated = await ctx.db.webhookEndpoint.update({
        ...query,
        where: { id: endpoint.id },
        data: {
          ...(url ? { url } : {}),
          ...(input.eventTypes ? { eventTypes: [...new Set(input.eventTypes.map(toWireName))] } : {}),
          ...(input.description !== undefined && input.description !== null ? { description: input.description || null } : {}),
          ...(input.enabled !== undefined && input.enabled !== null ? { enabled: input.enabled } : {}),
        },
      });
      if (input.enabled) ctx.webhooks.kick();
      return updated;
    },
  }),
  rotateWebhookSecret: t.field({
    type: WebhookEndpointSecretRef,
    description:
      'Replaces an endpoint’s signing secret and returns the new one, this once. Attempts from now on are signed with it; the old one ' +
      'stops verifying at once. Admins and API keys of its workspace.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The endpoint.' }) },
    resolve: async (_root, args, ctx) => {
      const endpoint = await endpointFor(ctx, args.id, 'manage');
      const secret = newSecret();
      await ctx.db.webhookEndpoint.update({ where: { id: endpoint.id }, data: { secret }, select: { id: true } });
      return { endpointId: endpoint.id, secret };
    },
  }),
  deleteWebhookEndpoint: t.field({
    type: DeletedWebhookEndpointRef,
    description: 'Deletes a webhook endpoint with its pending deliveries and its delivery log. Admins and API keys of its workspace.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The endpoint.' }) },
    resolve: async (_root, args, ctx) => {
      const endpoint = await endpointFor(ctx, args.id, 'manage');
      const { count } = await ctx.db.webhookEndpoint.deleteMany({ where: { id: endpoint.id } });
      if (count === 0) throw new NotFoundError('WebhookEndpoint');
      return { id: endpoint.id };
    },
  }),
  redeliverWebhook: t.prismaField({
    type: WebhookDeliveryRef,
    description:
      'Sends a delivery again, whatever became of it (parked, failed, or already delivered): it becomes PENDING, due now, and takes its ' +
      'turn in its conversation’s order; its attempts continue its log, with the same event id. A delivery being sent right now is a ' +
      'CONFLICT. Admins and API keys of its workspace.',
    errors: { types: [NotFoundError, ForbiddenError, ConflictError] },
    args: { id: t.arg.id({ description: 'The delivery (from `webhookDeliveries`).' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(args.id, 'WebhookDelivery');
      const found = await ctx.db.webhookDelivery.findUnique({ where: { id }, select: { endpoint: { select: { workspaceId: true } } } });
      if (!found) throw new NotFoundError('WebhookDelivery');
      try {
        requireIn(ctx, found.endpoint.workspaceId, 'manage');
      } catch (err) {
        if (err instanceof NotFoundError) throw new NotFoundError('WebhookDelivery');
        throw err;
      }
      // Conditional, so that it cannot reset an attempt another instance has in flight.
      const { count } = await ctx.db.webhookDelivery.updateMany({
        where: { id, status: { not: 'IN_FLIGHT' } },
        data: { status: 'PENDING', nextAttemptAt: new Date(), lastError: null },
      });
      if (count === 0) throw new ConflictError('This delivery is being sent right now; look at its log in a moment.');
      ctx.webhooks.kick();
      return ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));
