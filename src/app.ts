/**
 * buildApp(): wires configuration, database, pub/sub, the modules' per-app parts, schema and
 * transports into one server on one port. Everything that runs (connections, timers, listeners)
 * is started here, in the order read below, and stop() stops it in the reverse order: stop
 * accepting, stop the workers, close WebSockets with 1001 (going away), let in-flight requests
 * finish (up to SHUTDOWN_TIMEOUT_MS), stop the sweeps, then close pub/sub and the database.
 * Importing a module registers its GraphQL types (Pothos) and nothing else.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Config } from './config/env.js';
import { openDatabase, type Database } from './db/client.js';
import { createLogger, type Logger } from './logger.js';
import { PubSub } from './pubsub/pubsub.js';
import { RedisFactory } from './redis/connect.js';
import { TokenService } from './auth/tokens.js';
import { Connections } from './realtime/connections.js';
import { createStorage, UrlSigner } from './storage/index.js';
import { Presence } from './modules/presence/tracker.js';
import type { Services } from './graphql/context.js';
import { schema } from './graphql/schema.js';
import { createHttpHandler, maskUnexpected, type Yoga } from './transport/http.js';
import { useSharedEventExecution, type SharedExecutionStats } from './transport/shared-execution.js';
import { attachGraphQLWs } from './transport/ws.js';
import type { FrameStats } from './transport/frames.js';
import type { Host, HttpRoute, UpgradeRoute } from './transport/routes.js';
import { installCompat } from './compat/index.js';
import { createFileHandler, isFilePath } from './modules/attachments/download.js';
import { startFileSweeper } from './modules/attachments/sweep.js';
import { CallWorker } from './modules/calls/worker.js';
import { createDefenses } from './security/index.js';
import { Metrics, routeLabel } from './observability/metrics.js';
import { DatabaseHealth } from './observability/faults.js';
import { nameRequest, requestIdFrom } from './observability/request-context.js';
import { createMailer } from './mail/mailer.js';
import { startPendingSignUpPruner } from './modules/users/signup-confirmation.js';
import { WebhookWorker } from './modules/webhooks/worker.js';
import { MessagePipeline } from './modules/conversations/pipeline.js';
import { CatchUp } from './modules/conversations/catch-up.js';
import { startSupportSweeper } from './modules/support/sweeper.js';
import { DeskQueue } from './modules/support/desk.js';
import { refuseWhileClaimed } from './modules/support/claims.js';
import { noteMessage } from './modules/support/attention.js';
import { notifyOfMessageEdited, notifyOfMessageSent } from './modules/notifications/listeners.js';
import { reachesConversation } from './modules/conversations/permissions.js';
import { isCallParty } from './modules/calls/permissions.js';

export interface App {
  /** This instance's id: its presence marks, and its Redis connections' names (`chat:<id>:<role>`). */
  readonly instanceId: string;
  readonly config: Config;
  readonly services: Services;
  readonly database: Database;
  readonly yoga: Yoga;
  readonly server: Server;
  /** How subscription events were executed: once for all their subscribers, or per subscriber. */
  readonly sharedExecution: Readonly<SharedExecutionStats>;
  /** Subscription payloads serialized over graphql-ws, and deliveries that reused one (src/transport/frames.ts). */
  readonly frames: Readonly<FrameStats>;
  /** Listens on HOST:PORT (PORT 0 picks a free port); resolves with the base URL. */
  start(): Promise<string>;
  /** The base URL once started, e.g. http://127.0.0.1:4000. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
}

/** Stops one part of the app: resolves once nothing of it runs any more. */
type Stop = () => void | Promise<void>;

function jwtSecret(config: Config, logger: Logger): string {
  if (config.JWT_SECRET) return config.JWT_SECRET;
  if (!config.DATABASE_URL) {
    // Embedded mode: keep a generated secret beside the data so tokens survive a restart.
    const file = path.join(config.DATA_DIR, 'jwt-secret');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    mkdirSync(config.DATA_DIR, { recursive: true });
    const secret = randomBytes(48).toString('base64url');
    writeFileSync(file, secret, { mode: 0o600 });
    return secret;
  }
  logger.warn('JWT_SECRET is not set: using a random one, so tokens end with this process and are not shared between instances');
  return randomBytes(48).toString('base64url');
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  /** What runs, in the order it started: stop() stops it in reverse. */
  const running: Array<{ what: string; stop: Stop }> = [];
  const started = (what: string, stop: Stop) => void running.push({ what, stop });

  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: path.join(config.DATA_DIR, 'pglite'),
    logger,
    poolSize: config.DATABASE_POOL_SIZE,
    statementCache: config.DATABASE_STATEMENT_CACHE,
  });
  try {
    await database.migrate();
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
  started('the database', () => database.close());
  // Redis, when configured: three connections per instance, the pub/sub's two and one shared by
  // everything that keeps state there (presence, calls, rate limits), named after this instance
  // in Redis' CLIENT LIST (src/redis/connect.ts).
  const instanceId = randomUUID();
  const redis = config.REDIS_URL ? new RedisFactory({ url: config.REDIS_URL, name: `chat:${instanceId}`, logger }) : null;
  const pubsub = new PubSub({ queueLimit: config.SUBSCRIPTION_QUEUE_LIMIT, logger, redis: redis ?? undefined });
  started('pub/sub', () => pubsub.close());
  const state = redis?.state() ?? null;
  if (state) {
    started('the Redis state connection', () => state.close());
    // Its commands fail fast while Redis is down (never holding a request); at start, wait for
    // it so the first requests' rate limits count where the rest do.
    await state.ready(5000);
  }
  const secret = jwtSecret(config, logger);
  const connections = new Connections();
  const presence = new Presence({ connections, pubsub, logger }, { instanceId, ttlMs: config.PRESENCE_TTL_SECONDS * 1000, redis: state });
  presence.start();
  started('presence', () => presence.stop());
  const databaseHealth = new DatabaseHealth(logger, () => database.ping());
  started('the database health check', () => databaseHealth.stop());
  const sharedExecution: SharedExecutionStats = { shared: 0, reused: 0, own: 0 };
  const metrics = new Metrics({
    connections: () => connections.size,
    subscriptions: () => pubsub.stats.subscribers,
    pubsub: () => ({ ...pubsub.stats, up: pubsub.health.up }),
    database: () => ({ up: databaseHealth.up, statements: database.stats.statements, outages: databaseHealth.outage.count }),
    sharedExecution: () => sharedExecution,
  });
  const defenses = createDefenses(config, logger, state?.client ?? null, metrics.rateLimitRefusals);
  const services: Services = {
    defenses,
    db: database.prisma,
    rows: database.rows,
    pubsub,
    tokens: new TokenService(secret, config.ACCESS_TOKEN_TTL_SECONDS),
    config,
    logger,
    connections,
    presence,
    storage: createStorage(config),
    urlSigner: new UrlSigner(secret),
    metrics,
    databaseHealth,
    mailer: createMailer(config, logger),
    // Every message is written through it; other modules act on sends through these hooks alone.
    pipeline: new MessagePipeline({
      guards: [refuseWhileClaimed],
      appended: [noteMessage, notifyOfMessageSent],
      changed: [notifyOfMessageEdited],
    }),
    deskQueue: new DeskQueue(),
    catchUp: new CatchUp(),
    calls: new CallWorker(),
    webhooks: new WebhookWorker(),
    // What the parameterized scopes (conversationReader/Writer, callParty) ask the modules.
    resources: { conversation: reachesConversation, call: isCallParty },
  };

  // Mail still being relayed is given its chance after the last request that sent it.
  started('the mailer', () => services.mailer.close());

  // Background work that outlives the WebSockets (it serves them until they close).
  started('the catch-up', services.catchUp.start(services));
  started('the file sweeper', startFileSweeper(services));
  started('the pending sign-up pruner', startPendingSignUpPruner(services));

  const mask = maskUnexpected(logger.child({ component: 'graphql' }), (err) => databaseHealth.classify(err));
  const yoga = createHttpHandler(
    services,
    schema,
    [metrics.plugin(), ...defenses.plugins, useSharedEventExecution(mask, sharedExecution)],
    defenses.documentCaches,
  );
  // One message per turn of the event loop: a socket that sends thousands of frames in one
  // burst takes turns with every other client instead of holding the loop until all are handled
  // (ws' default handles a whole read at once; 5,000 subscribe frames held it for ~0.7 s).
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.GRAPHQL_MAX_BODY_BYTES, allowSynchronousEvents: false });
  const graphqlWs = attachGraphQLWs(wss, yoga, services, mask);
  // Routes beyond /graphql, registered by the legacy shim (and anything else mounted on the
  // same port): first match wins, by path.
  const httpRoutes: HttpRoute[] = [];
  const upgradeRoutes: UpgradeRoute[] = [
    {
      match: (pathname) => pathname === '/graphql',
      handle: (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    },
  ];
  const stopHooks: Array<() => Promise<void> | void> = [];

  const files = createFileHandler(services);

  const server = createServer((req, res) => {
    const began = process.hrtime.bigint();
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    nameRequest(req, requestId);
    // Draining: this response is the connection's last (the client opens its next one elsewhere).
    if (stopping) res.setHeader('connection', 'close');
    const pathname = (req.url ?? '/').split('?')[0]!;
    res.once('finish', () => {
      const route = routeLabel(pathname);
      metrics.httpRequests.inc({ method: req.method ?? 'GET', route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method ?? 'GET', route }, Number(process.hrtime.bigint() - began) / 1e9);
    });
    route(req, res, pathname).catch((err: unknown) => {
      // No request may go unanswered, whatever failed.
      logger.error({ err, path: (req.url ?? '').slice(0, 200), requestId }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"detail":"Internal server error."}');
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      const checks = await readiness();
      const ok = Object.values(checks).every((c) => c === 'ok');
      return json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks });
    }
    if (pathname === '/metrics' && config.METRICS_ENABLED) {
      const { contentType, body } = await metrics.scrape();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (isFilePath(pathname)) return files(req, res);
    if (pathname === '/') {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    const extra = httpRoutes.find((r) => r.match(pathname));
    if (extra) return extra.handle(req, res);
    return yoga.handle(req, res);
  }

  /** What /readyz reports: each dependency "ok" or what fails; draining fails it at once. */
  async function readiness(): Promise<Record<string, string>> {
    const within = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    const checks: Record<string, string> = {};
    if (stopping) checks.server = 'failing: shutting down (draining)';
    // Just started: give Redis its first connection before calling it down.
    await pubsub.untilConnected(2000);
    const bus = pubsub.health;
    if (pubsub.kind === 'redis') checks.redis = bus.up ? 'ok' : `failing: ${bus.reason ?? 'unavailable'}`;
    await within(database.ping()).then(
      () => (checks.database = 'ok'),
      (err: Error) => (checks.database = `failing: ${err.message.split('\n').filter(Boolean).pop() ?? 'unavailable'}`),
    );
    return checks;
  }

  const host: Host = {
    server,
    yoga,
    services,
    addHttpRoute: (route) => httpRoutes.push(route),
    addUpgradeRoute: (route) => upgradeRoutes.push(route),
    onStop: (hook) => stopHooks.push(hook),
  };
  installCompat(host);

  server.on('upgrade', (req, socket, head) => {
    // A function of its own, not a closure here: this one would share its scope with the
    // callbacks below and keep the upgrade request alive for the socket's life.
    socket.on('error', destroyOnError);
    const pathname = (req.url ?? '/').split('?')[0]!;
    const handler = upgradeRoutes.find((r) => r.match(pathname))?.handle;
    if (!handler || stopping) {
      socket.end(`HTTP/1.1 ${stopping ? '503 Service Unavailable' : '404 Not Found'}\r\nConnection: close\r\n\r\n`);
      return;
    }
    defenses.sockets.admitUpgrade(req, socket).then(
      (admitted) => {
        if (admitted && !socket.destroyed) handler(req, socket, head);
      },
      (err: unknown) => {
        logger.error({ err }, 'admitting a WebSocket failed');
        socket.destroy();
      },
    );
  });

  let url = '';
  let stopping: Promise<void> | null = null;
  /** Set when stop() begins: the listener closes, idle connections are closed, a deadline cuts the rest. */
  let draining: { closed: Promise<void>; idle: NodeJS.Timeout; cut: NodeJS.Timeout; deadline: number } | null = null;
  started('the server and its WebSockets', async () => {
    const log = logger.child({ component: 'shutdown' });
    const deadline = draining?.deadline ?? Date.now();
    // WebSockets: their queries and mutations in flight finish first, then 1001 (going away).
    while (graphqlWs.inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.resolve(graphqlWs.dispose()).catch((err: unknown) => log.warn({ err }, 'closing WebSockets failed'));
    for (const hook of stopHooks) await Promise.resolve(hook()).catch((err: unknown) => log.warn({ err }, 'a stop hook failed'));
    server.closeIdleConnections();
    if (draining) {
      await draining.closed;
      clearTimeout(draining.cut);
      clearInterval(draining.idle);
    }
  });

  // Workers that stop before the WebSockets close, so that a deploy's shutdown neither ends the
  // calls nor releases the claims of people who reconnect to another instance. Both ask
  // presence (started above, so its listener records a closed connection before theirs ask)
  // whether someone whose last connection here closed is connected anywhere.
  // Ring timeouts and disconnects of calls, including what passed while no instance ran.
  started('the call worker', services.calls.start(services));
  // Lapsed claims, urgency as waits grow, claims of holders who left.
  started('the support sweeper', startSupportSweeper(services));
  // Webhook deliveries, including what was queued while no instance ran; attempts in flight
  // are aborted on stop and released for any instance to send again.
  if (config.WEBHOOK_WORKER) started('the webhook worker', services.webhooks.start(services));

  return {
    instanceId,
    config,
    services,
    database,
    yoga,
    server,
    sharedExecution,
    frames: graphqlWs.frames,
    get url() {
      return url;
    },
    start: () =>
      new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.PORT, config.HOST, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          url = `http://${host === '0.0.0.0' || host === '[::]' ? 'localhost' : host}:${address.port}`;
          resolve(url);
        });
      }),
    stop: () => {
      stopping ??= (async () => {
        const log = logger.child({ component: 'shutdown' });
        // Draining, in this order (README, "Draining"): /readyz answers 503 and every response
        // says `Connection: close` from now on (`stopping` is set); the listener closes, so new
        // connections are refused, and idle keep-alive connections close.
        log.info('draining: /readyz 503, new connections refused, keep-alive connections closed after their next response');
        draining = {
          closed: new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve())),
          idle: setInterval(() => server.closeIdleConnections(), 50),
          deadline: Date.now() + config.SHUTDOWN_TIMEOUT_MS,
          cut: setTimeout(() => {
            log.warn({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'in-flight requests did not finish in time; closing them');
            server.closeAllConnections();
          }, config.SHUTDOWN_TIMEOUT_MS),
        };
        // Then everything that runs, in the reverse of the order it started.
        for (const { what, stop } of running.reverse()) {
          await Promise.resolve()
            .then(stop)
            .catch((err: unknown) => log.warn({ err }, `stopping ${what} failed`));
        }
        log.info('stopped');
      })();
      return stopping;
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** An upgraded socket's error listener: the socket is destroyed (its close is what the WebSocket layer hears). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}
