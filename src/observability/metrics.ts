/**
 * Metrics for operators, in Prometheus' text format at GET /metrics (prom-client). One registry
 * per app (tests run several apps in one process). Counters that other parts already keep (pub/sub
 * deliveries, database statements) are read at scrape time rather than counted twice on the hot
 * path. See the README's "Metrics and alerts" for what each means and alerts worth having.
 */
import type { ExecutionArgs, ExecutionResult, OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Distinct operation names kept as labels; beyond, "other" (names come from clients). */
const MAX_OPERATION_NAMES = 200;

/** What the metrics read at scrape time. */
export interface MetricSources {
  connections: () => number;
  subscriptions: () => number;
  pubsub: () => { up: boolean; deliveries: number; published: number; dropped: number; failed: number; resubscribed: number; overflows: number };
  database: () => { up: boolean; statements: number; outages: number };
  sharedExecution?: () => { shared: number; reused: number; own: number };
}

/** A counter whose value is read from elsewhere when scraped. */
function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'chat_http_requests_total',
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'chat_http_request_duration_seconds',
    help: 'HTTP request latency, from the request arriving to the response finishing, by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly operations = new Counter({
    name: 'chat_graphql_operations_total',
    help: 'GraphQL operations by transport (http, ws), type, operation name and outcome (ok, or the first error code).',
    labelNames: ['transport', 'type', 'operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly operationDuration = new Histogram({
    name: 'chat_graphql_operation_duration_seconds',
    help: 'GraphQL query and mutation execution time (subscriptions: until their stream is set up), by transport, type and name.',
    labelNames: ['transport', 'type', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly slowConsumerCloses = new Counter({
    name: 'chat_slow_consumer_closes_total',
    help: 'WebSockets closed (4008) because they fell too far behind.',
    registers: [this.registry],
  });
  readonly catchUps = new Counter({
    name: 'chat_catchups_total',
    help: 'Catch-up rounds (reading from the database what pub/sub may have missed), by reason: reconnect, periodic.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly caughtUpMessages = new Counter({
    name: 'chat_caught_up_messages_total',
    help: 'Stream entries (messages, and edits, deletes, reactions and pins of them) this instance delivered from the database because pub/sub had not rung them.',
    registers: [this.registry],
  });
  /**
   * Requests refused by a defense, by the limit that refused them (a RATE_LIMIT_* or WS_MAX_*
   * setting, or an operation limit: depth, aliases, tokens, directives, cost). Counted by the
   * defenses' one refusal path (src/security/refusal.ts).
   */
  readonly rateLimitRefusals = new Counter({
    name: 'chat_rate_limit_refusals_total',
    help: 'Requests refused by a rate limit, an operation limit or a connection cap, by the limit (scope).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  private readonly names = new Set<string>();

  constructor(sources: MetricSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'chat_', eventLoopMonitoringPrecision: 20 });
    new Gauge({ name: 'chat_ws_connections', help: 'Live WebSocket connections (graphql-ws) on this instance.', registers: [r], collect() { this.set(sources.connections()); } });
    new Gauge({ name: 'chat_subscriptions', help: 'Live pub/sub subscriptions on this instance (one per subscribed stream).', registers: [r], collect() { this.set(sources.subscriptions()); } });
    new Gauge({ name: 'chat_pubsub_up', help: '1 while pub/sub (Redis, or in memory) works, 0 during an outage.', registers: [r], collect() { this.set(sources.pubsub().up ? 1 : 0); } });
    new Gauge({ name: 'chat_database_up', help: '1 while the database answers, 0 during an outage.', registers: [r], collect() { this.set(sources.database().up ? 1 : 0); } });
    readCounter(r, 'chat_deliveries_total', 'Events handed to subscribers (one per subscriber per event).', () => sources.pubsub().deliveries);
    readCounter(r, 'chat_pubsub_published_total', 'Events this instance published.', () => sources.pubsub().published);
    readCounter(r, 'chat_pubsub_unrung_total', 'Events not rung through Redis (down, or its buffer full): delivered locally, caught up elsewhere.', () => sources.pubsub().dropped);
    readCounter(r, 'chat_pubsub_publish_failures_total', 'Publishes that failed on the way to Redis.', () => sources.pubsub().failed);
    readCounter(r, 'chat_pubsub_resubscribes_total', 'Times Redis came back and this instance was subscribed again.', () => sources.pubsub().resubscribed);
    readCounter(r, 'chat_subscription_overflows_total', 'Subscriptions ended because their queue overflowed (slow consumers).', () => sources.pubsub().overflows);
    readCounter(r, 'chat_database_statements_total', 'SQL statements sent by the app.', () => sources.database().statements);
    readCounter(r, 'chat_database_outages_total', 'Database outages seen (each logged once when it begins and once when it ends).', () => sources.database().outages);
    if (sources.sharedExecution) {
      const shared = sources.sharedExecution;
      readCounter(r, 'chat_subscription_executions_shared_total', 'Subscription event executions shared by all subscribers of the same selection.', () => shared().shared);
    }
  }

  /** An operation name as a label: bounded in number and shape, since clients choose them. */
  operationLabel(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (this.names.has(name)) return name;
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) || this.names.size >= MAX_OPERATION_NAMES) return 'other';
    this.names.add(name);
    return name;
  }

  /** The envelop plugin that counts and times every GraphQL operation, over HTTP and WebSocket alike. */
  plugin(): Plugin {
    const record = (args: ExecutionArgs, started: bigint, result: ExecutionResult | undefined, error?: unknown) => {
      const operation = args.document.definitions.find(
        (d): d is OperationDefinitionNode => d.kind === 'OperationDefinition' && (!args.operationName || d.name?.value === args.operationName),
      );
      const type = operation?.operation ?? 'unknown';
      const transport = (args.contextValue as { connectionId?: string } | undefined)?.connectionId ? 'ws' : 'http';
      const name = this.operationLabel(operation?.name?.value ?? args.operationName ?? undefined);
      const code = error
        ? 'error'
        : result?.errors?.length
          ? String((result.errors[0]!.extensions as { code?: unknown } | undefined)?.code ?? 'error')
          : 'ok';
      this.operations.inc({ transport, type, operation: name, outcome: code });
      this.operationDuration.observe({ transport, type, operation: name }, Number(process.hrtime.bigint() - started) / 1e9);
    };
    const isIterable = (value: unknown) => typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
    return {
      onExecute: ({ args }) => {
        const started = process.hrtime.bigint();
        return {
          onExecuteDone: ({ result }) => {
            if (!isIterable(result)) record(args, started, result as ExecutionResult);
          },
        };
      },
      // A subscription is counted when it starts (or is refused), not when its stream fails
      // later: an onSubscribeError hook makes envelop wrap every stream in one more iterator, run
      // per event per subscriber. A stream's unexpected failure is logged where it is masked.
      onSubscribe: ({ args }) => {
        const started = process.hrtime.bigint();
        return {
          onSubscribeResult: ({ result }) => record(args, started, isIterable(result) ? undefined : (result as ExecutionResult)),
        };
      },
    };
  }

  /** The exposition: content type and body. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** The route label of an HTTP path: bounded, so ids in paths do not make new series. */
export function routeLabel(pathname: string): string {
  if (pathname === '/graphql' || pathname === '/healthz' || pathname === '/readyz' || pathname === '/metrics') return pathname;
  if (pathname.startsWith('/files/')) return '/files';
  return 'legacy';
}
