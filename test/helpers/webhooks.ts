/**
 * A real HTTP receiver for webhook tests, on 127.0.0.1 (the only address tests send to): it
 * records every request, verifies its signatures as the README tells receivers to (written here
 * from the README, not with the server's own code), answers as the test says (2xx, an error, or
 * not at all), and watches how many deliveries of one conversation are open at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { graphql } from '../gql/index.js';

export interface WebhookBody {
  id: string;
  type: string;
  createdAt: string;
  workspaceId: string;
  conversationId: string;
  sequence: number;
  data: Record<string, any>;
}

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: WebhookBody;
  /** Index of the request among all received, from 0. */
  index: number;
  /** What the receiver answered: a status, or 'hang' (no answer until the client gave up). */
  answer: number | 'hang';
}

export type Answer = number | 'hang';

/** The verification the README shows receivers (Stripe-style header), step by step. */
export function verifyAsReadme(secret: string, rawBody: string, header: string | undefined, toleranceSeconds = 300): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** GitHub-style `X-Hub-Signature-256: sha256=<hex>` over the raw body. */
export function verifyGitHubStyle(secret: string, rawBody: string, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export class Receiver {
  readonly requests: Received[] = [];
  /** Decides each answer; by default 204. */
  answer: (body: WebhookBody, attempt: number, index: number) => Answer | Promise<Answer> = () => 204;
  /** Most deliveries of one conversation open at the same time, and of all. */
  maxOpenPerConversation = 0;
  maxOpen = 0;
  private readonly open = new Map<string, number>();
  private openTotal = 0;
  private readonly held = new Map<ServerResponse, Received>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(path = '/hooks'): Promise<Receiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const receiver = new Receiver(server, `http://127.0.0.1:${port}${path}`);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void receiver.handle(req.headers, Buffer.concat(chunks).toString('utf8'), res));
    });
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private async handle(headers: IncomingHttpHeaders, raw: string, res: ServerResponse): Promise<void> {
    const body = JSON.parse(raw) as WebhookBody;
    const conv = body.conversationId;
    this.open.set(conv, (this.open.get(conv) ?? 0) + 1);
    this.openTotal++;
    this.maxOpenPerConversation = Math.max(this.maxOpenPerConversation, this.open.get(conv)!);
    this.maxOpen = Math.max(this.maxOpen, this.openTotal);
    res.on('close', () => {
      this.open.set(conv, this.open.get(conv)! - 1);
      this.openTotal--;
      this.held.delete(res);
      this.notify();
    });
    const index = this.requests.length;
    const entry: Received = { headers, raw, body, index, answer: 204 };
    this.requests.push(entry);
    const answer = await this.answer(body, Number(headers['webhook-attempt']), index);
    entry.answer = answer;
    this.notify();
    if (answer === 'hang') {
      this.held.set(res, entry);
      return;
    }
    res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer >= 400 ? `failing on purpose (${answer})` : 'ok');
  }

  /** Requests currently held without an answer. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Answers every held request with this status. */
  release(status = 204): void {
    for (const [res, entry] of this.held) {
      entry.answer = status;
      res.writeHead(status).end('ok');
    }
    this.held.clear();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Waits until `check` holds (re-checked on every request and every closed response), or fails after `ms`. */
  async until(check: () => boolean, ms = 20_000, what = 'receiver condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} not met in ${ms} ms (${this.requests.length} requests received)`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 200));
        this.waiters.add(done);
      });
    }
  }

  /** Requests answered 2xx, in arrival order. */
  succeeded(): Received[] {
    return this.requests.filter((r) => typeof r.answer === 'number' && r.answer < 300);
  }

  async close(): Promise<void> {
    this.release(503);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const CreateEndpointDoc = graphql(`
  mutation WebhookCreateEndpoint($input: CreateWebhookEndpointInput!) {
    createWebhookEndpoint(input: $input) {
      __typename
      ... on WebhookEndpointSecret {
        secret
        endpoint {
          id
          url
          eventTypes
          enabled
          secretHint
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`);

export const DeliveriesDoc = graphql(`
  query WebhookDeliveries($endpointId: ID!, $status: WebhookDeliveryStatus, $first: Int, $after: ID) {
    webhookDeliveries(endpointId: $endpointId, status: $status, first: $first, after: $after) {
      id
      eventId
      eventType
      conversationId
      sequence
      status
      attempts
      lastStatusCode
      lastError
      deliveredAt
      payload
      attemptLog {
        number
        statusCode
        succeeded
        error
        durationMs
        responseBody
      }
    }
  }
`);
