/**
 * The defenses of one app (README "Security"): operation limits, rate limits and socket caps,
 * bounded parse caches, and the production posture; every refusal goes through ./refusal.ts.
 */
import type { Plugin } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { documentCaches, type DocumentCaches } from './document-cache.js';
import { useOperationLimits } from './operation-limits.js';
import { RateLimits, useRateLimits } from './rate-limits.js';
import { SocketLimits } from './sockets.js';
import { loadTrustedDocuments, useTrustedDocuments, type TrustedDocuments } from './trusted-documents.js';
import { RefusalLog, type DefensesLogger, type RefusalCounter } from './refusal.js';

export interface Defenses {
  /** Yoga/envelop plugins: shared by HTTP, graphql-ws and the legacy executor. */
  plugins: Plugin[];
  /** Yoga's parse caches, bounded in bytes (its `parserAndValidationCache`). */
  documentCaches: DocumentCaches;
  rateLimits: RateLimits;
  sockets: SocketLimits;
  /** The allow-list of documents clients may run, when TRUSTED_DOCUMENTS_FILE is set. */
  trusted: TrustedDocuments | null;
  logger: Logger;
}

/** `redis`: the instance's state connection, where rate limits count (null: in memory). */
export function createDefenses(config: Config, logger: Logger, redis: Redis | null, refusals?: RefusalCounter): Defenses {
  const log: DefensesLogger = Object.assign(logger.child({ component: 'defenses' }), {
    refusals,
    refusalLog: new RefusalLog(config.LOG_REFUSALS_WINDOW_MS),
  });
  const rateLimits = new RateLimits(config, log, redis);
  const trusted = loadTrustedDocuments(config, log);
  return {
    trusted,
    plugins: [...useTrustedDocuments(trusted, log), ...useOperationLimits(config, log), useRateLimits(rateLimits, log)],
    documentCaches: documentCaches(log),
    rateLimits,
    sockets: new SocketLimits(config, log),
    logger: log,
  };
}
