// Entry point: read the configuration, start the server, stop cleanly on SIGTERM/SIGINT.
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config/env.js';
import { createLogger } from './logger.js';

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const logger = createLogger(config.LOG_LEVEL);
// A stray rejection is a bug to log, not a reason to drop every connection on this instance.
process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
try {
  const app = await buildApp(config, { logger });
  const url = await app.start();
  logger.info(
    { url, database: app.database.kind, pubsub: app.services.pubsub.kind },
    `GraphQL API and GraphiQL at ${url}/graphql (subscriptions: ws${url.slice(4)}/graphql)`,
  );
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  logger.fatal({ err }, 'could not start; see the error above');
  process.exit(1);
}
