/**
 * A small router for the legacy REST paths: method + pattern (":name" segments), trailing slash
 * optional as Django clients send it either way, and bodies parsed the ways legacy clients send
 * them (JSON, form-urlencoded, multipart form fields), or left unread for a route that streams it
 * (a file upload). Handlers get plain strings and answer
 * JSON; any error they do not turn into a legacy response is logged and answered 500 without
 * detail, so no legacy request can crash the process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { LegacyNotConfigured } from '../credentials.js';
import type { Executor } from '../executor.js';

/**
 * Asked of every legacy request before it is served (per-address rate limit, src/security/):
 * null to go on, or when the client may try again (ms).
 */
export type Admit = (req: IncomingMessage) => Promise<{ retryAfterMs: number } | null>;

export interface LegacyRequest {
  method: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Form or JSON body fields (JSON values other than strings are kept as they are); empty for a `rawBody` route. */
  body: Record<string, unknown>;
  headers: IncomingMessage['headers'];
  /** The request; its body is still unread for a route mounted with `rawBody`. */
  raw: IncomingMessage;
  /** Runs the request's GraphQL operations, on behalf of its client (src/compat/executor.ts). */
  executor: Executor;
}

export interface RouteOptions {
  /**
   * Leave the body unread for the handler to stream (a file upload); default false: the router
   * reads it whole (up to 1 MiB) and refuses files. A handler that starts reading the body must
   * read it to its end; one that never reads it has Node discard it after the response.
   */
  rawBody?: boolean;
}

export interface LegacyResponse {
  status: number;
  body: unknown;
}

export type Handler = (req: LegacyRequest) => Promise<LegacyResponse>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
  rawBody: boolean;
}

export class BadRequest extends Error {}

const MAX_BODY = 1024 * 1024;

export class Router {
  private readonly routes: Route[] = [];
  constructor(
    private readonly logger: Logger,
    private readonly admit: Admit,
    /** The executor bound to a request's client, for its handler. */
    private readonly executorFor: (req: IncomingMessage) => Executor,
  ) {}

  on(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler, rawBody: options.rawBody ?? false });
    return this;
  }

  /** Whether some route has this path (any method). */
  matches(pathname: string): boolean {
    // Undecoded: a malformed escape still belongs to the shim, which answers it 400.
    return this.routes.some((r) => match(r.parts, pathname, (s) => s) !== null);
  }

  /**
   * Serves one legacy request. Whatever happens (a malformed path or query, a body that cannot
   * be read, a handler that throws), the client gets a legacy answer: 400 for what it sent
   * wrong, 500 without detail (logged) for our failures; never silence.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.serve(req, res);
    } catch (err) {
      this.logger.error({ err, path: (req.url ?? '').slice(0, 200) }, 'legacy request failed');
      send(res, 500, { detail: 'Internal server error.' });
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const throttled = await this.admit(req);
    if (throttled) {
      // Django REST framework's own throttling answer, which legacy clients already handle.
      const seconds = Math.max(1, Math.ceil(throttled.retryAfterMs / 1000));
      send(res, 429, { detail: `Request was throttled. Expected available in ${seconds} seconds.` }, { 'retry-after': String(seconds) });
      return;
    }
    let url: URL;
    let candidates: Array<{ route: Route; params: Record<string, string> | null }>;
    try {
      url = new URL(req.url ?? '/', 'http://legacy');
      candidates = this.routes.map((r) => ({ route: r, params: match(r.parts, url.pathname) })).filter((c) => c.params !== null);
    } catch {
      // A malformed escape (GET /send/%/) or URL: the client's mistake, told as Django would.
      send(res, 400, { detail: 'Malformed request path or query.' });
      return;
    }
    const found = candidates.find((c) => c.route.method === req.method);
    if (!found) {
      send(res, candidates.length ? 405 : 404, { detail: candidates.length ? `Method "${req.method}" not allowed.` : 'Not found.' });
      return;
    }
    try {
      // Django reads a body on any method, and legacy 001 documents form data on its list calls.
      const body = !found.route.rawBody && hasBody(req) ? await readBody(req) : {};
      const out = await found.route.handler({
        method: req.method ?? 'GET',
        params: found.params!,
        query: url.searchParams,
        body,
        headers: req.headers,
        raw: req,
        executor: this.executorFor(req),
      });
      send(res, out.status, out.body);
    } catch (err) {
      if (err instanceof BadRequest) {
        send(res, 400, { detail: err.message });
        return;
      }
      if (err instanceof LegacyNotConfigured) {
        send(res, 503, { detail: err.message });
        return;
      }
      this.logger.error({ err, path: url.pathname }, 'legacy request failed');
      send(res, 500, { detail: 'Internal server error.' });
    }
  }
}

function match(parts: string[], pathname: string, decode: (s: string) => string = decodeURIComponent): Record<string, string> | null {
  const segs = pathname.split('/').filter(Boolean);
  if (segs.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = decode(segs[i]!);
    else if (p !== segs[i]) return null;
  }
  return params;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  if (status === 204) {
    res.writeHead(204, headers);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding']) return true;
  const length = Number(req.headers['content-length'] ?? 0);
  return Number.isFinite(length) && length > 0;
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return readMultipartFields(req);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BadRequest('Request body too large.');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  if (type.includes('application/json')) {
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch {
      throw new BadRequest('JSON parse error - the body is not a JSON object.');
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/** Multipart bodies: text fields only (files go through the GraphQL upload path). */
async function readMultipartFields(req: IncomingMessage): Promise<Record<string, unknown>> {
  const { default: busboy } = await import('busboy');
  return new Promise((resolve, reject) => {
    const fields: Record<string, unknown> = {};
    const bb = busboy({ headers: req.headers, limits: { fieldSize: MAX_BODY, files: 0 } });
    bb.on('field', (name: string, value: string) => (fields[name] = value));
    bb.on('filesLimit', () => reject(new BadRequest('Files are not accepted here.')));
    bb.on('error', () => reject(new BadRequest('Malformed multipart body.')));
    bb.on('close', () => resolve(fields));
    req.pipe(bb);
  });
}
