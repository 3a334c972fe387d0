/** GraphQL types of webhooks: endpoints, deliveries and their attempts (the delivery log). */
import { builder } from '../../graphql/builder.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events.js';

const EVENT_DESCRIPTIONS: Record<WebhookEventType, string> = {
  'message.created': 'A message was added to a conversation (`data.message`), system messages included (call summaries).',
  'message.edited': 'A message’s text was edited (`data.message`, with `editedAt`).',
  'message.deleted': 'A message was deleted (`data.message`, its body withheld, with `deletedAt`).',
  'ticket.opened': 'A support ticket was opened (`data.ticket`).',
  'ticket.assigned': 'A ticket was assigned to a line manager, by routing, a take or a transfer (`data.ticket`, `data.transferred`).',
  'ticket.closed': 'A ticket was closed (`data.ticket`, with `closeNote`).',
  'ticket.rated': 'The customer rated a closed ticket (`data.ticket`, `data.rating`).',
  'call.ended': 'A call finished, answered or not: ended, missed, rejected, cancelled, failed, or busy at once (`data.call`).',
};

/** GraphQL enum value ⇄ wire name: MESSAGE_CREATED ⇄ message.created. */
export const toEnumValue = (type: string) => type.replace('.', '_').toUpperCase();
export const toWireName = (value: string) => value.toLowerCase().replace('_', '.') as WebhookEventType;

export const WebhookEventTypeEnum = builder.enumType('WebhookEventType', {
  description:
    'An event a webhook endpoint may subscribe to. Deliveries name it in the body’s `type` and the `Webhook-Event` header by its wire name, ' +
    'the value in lower case with a dot: MESSAGE_CREATED is `message.created`.',
  values: Object.fromEntries(
    WEBHOOK_EVENT_TYPES.map((type) => [toEnumValue(type), { value: toEnumValue(type), description: `\`${type}\`: ${EVENT_DESCRIPTIONS[type]}` }]),
  ) as Record<string, { value: string; description: string }>,
});

export const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { description: 'Waiting for its turn (an earlier event of its conversation first) or for its next attempt (`nextAttemptAt`).' },
    IN_FLIGHT: { description: 'Being sent by an instance right now.' },
    SUCCEEDED: { description: 'The endpoint answered with a 2xx status.' },
    PARKED: { description: 'Given up after WEBHOOK_MAX_ATTEMPTS failed attempts; `redeliverWebhook` sends it again.' },
  } as const,
});

export const WebhookEndpointRef = builder.prismaObject('WebhookEndpoint', {
  description:
    'A URL of the workspace’s that receives signed events (see the README, "Webhooks", for the body, headers and how to verify them). ' +
    'Staff of the workspace see it; admins and API keys manage it. Its secret is shown only when created or rotated.',
  authScopes: (e) => ({ workspace: { workspaceId: e.workspaceId, roles: ['ADMIN', 'AGENT'] } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The endpoint’s id.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace whose events it receives.' }),
    url: t.exposeString('url', { description: 'Where events are POSTed.' }),
    description: t.exposeString('description', { nullable: true, description: 'What it is for, as its admin wrote.' }),
    eventTypes: t.field({
      type: [WebhookEventTypeEnum],
      description: 'The events it receives.',
      resolve: (e) => e.eventTypes.map(toEnumValue),
    }),
    enabled: t.exposeBoolean('enabled', {
      description:
        'Whether it receives events. Events that happen while it is disabled are not recorded for it; deliveries queued before it was ' +
        'disabled wait, and go out in order once it is enabled again.',
    }),
    secretHint: t.string({
      description: 'The last four characters of its signing secret, to tell which one a receiver holds; the secret itself is never shown again.',
      select: { secret: true },
      resolve: (e) => `…${e.secret.slice(-4)}`,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was registered.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it was last changed.' }),
  }),
});

export interface RegisteredEndpoint {
  endpointId: string;
  secret: string;
}

export const WebhookEndpointSecretRef = builder.objectRef<RegisteredEndpoint>('WebhookEndpointSecret').implement({
  description: 'An endpoint with its signing secret, returned once, when the endpoint is created or its secret rotated. Keep the secret: it is not shown again.',
  fields: (t) => ({
    secret: t.exposeString('secret', {
      description: 'The HMAC-SHA256 key deliveries are signed with (`whsec_…`); use the whole string as the key.',
    }),
    endpoint: t.prismaField({
      type: 'WebhookEndpoint',
      description: 'The endpoint.',
      resolve: (query, r, _args, ctx) => ctx.db.webhookEndpoint.findUniqueOrThrow({ ...query, where: { id: r.endpointId } }),
    }),
  }),
});

export const WebhookAttemptRef = builder.prismaObject('WebhookAttempt', {
  description: 'One HTTP attempt of a delivery, as the delivery log keeps it.',
  fields: (t) => ({
    number: t.exposeInt('number', { description: '1 for the first attempt, then 2, 3 … (redeliveries continue the count).' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When the request started.' }),
    durationMs: t.exposeInt('durationMs', { description: 'Milliseconds until the answer, the failure or the timeout.' }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'The HTTP status of the answer; null when none came.' }),
    succeeded: t.exposeBoolean('succeeded', { description: 'Whether the endpoint answered 2xx.' }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why it failed: `HTTP 500`, `timed out after 10000 ms`, `address refused: …`, a connection error, or an interrupted attempt.',
    }),
    responseBody: t.exposeString('responseBody', { nullable: true, description: 'The first kilobyte of the answer’s body.' }),
  }),
});

export const WebhookDeliveryRef = builder.prismaObject('WebhookDelivery', {
  description: 'One event to one endpoint: its status, its attempts, and what was sent.',
  select: { endpoint: { select: { workspaceId: true } } },
  authScopes: (d) => ({ workspace: { workspaceId: d.endpoint.workspaceId, roles: ['ADMIN', 'AGENT'] } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The delivery’s id (the `Webhook-Delivery` header).' }),
    eventId: t.exposeID('eventId', { description: 'The event’s id (the body’s `id` and the `Webhook-Id` header; the same on every attempt and redelivery).' }),
    eventType: t.field({
      type: WebhookEventTypeEnum,
      description: 'The event’s type.',
      select: { event: { select: { type: true } } },
      resolve: (d) => toEnumValue(d.event.type),
    }),
    conversationId: t.exposeID('conversationId', { description: 'The conversation (room, thread, ticket) the event happened in.' }),
    sequence: t.exposeInt('sequence', { description: 'The event’s number in its conversation (1, 2, 3 … in commit order); deliveries of one conversation go in this order.' }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum, description: 'Where it stands.' }),
    attempts: t.exposeInt('attempts', { description: 'HTTP attempts made so far.' }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', description: 'When it is due (PENDING): now, or after a retry’s backoff.' }),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true, description: 'The HTTP status of the last attempt, if an answer came.' }),
    lastError: t.exposeString('lastError', { nullable: true, description: 'Why the last attempt failed, if it did.' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true, description: 'When an attempt last succeeded.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the event was recorded (committed with its change).' }),
    payload: t.string({
      description: 'The event’s `data` as JSON (the body adds id, type, createdAt, workspaceId, conversationId and sequence around it).',
      select: { event: { select: { payload: true } } },
      resolve: (d) => JSON.stringify(d.event.payload),
    }),
    endpoint: t.relation('endpoint', { description: 'The endpoint it goes to.' }),
    attemptLog: t.relation('attemptLog', { description: 'Its attempts, oldest first.', query: { orderBy: { number: 'asc' } } }),
  }),
});
