/**
 * The chat server, in a process of its own: built from the environment like src/main.ts, it
 * reports its URL to the orchestrator over IPC, and answers { type: 'stats' } with its database
 * and pub/sub counters (statements per message is part of the report).
 */
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/env.js';
import { createLogger } from '../src/logger.js';

const config = loadConfig();
const app = await buildApp(config, { logger: createLogger(config.LOG_LEVEL, 'bench-server') });
const url = await app.start();
process.send!({ type: 'ready', url, database: app.database.kind, pubsub: app.services.pubsub.kind });

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'stats') {
    process.send!({
      type: 'stats',
      database: { ...app.database.stats },
      pubsub: { ...app.services.pubsub.stats },
      sharedExecution: { ...app.sharedExecution },
      memory: process.memoryUsage().rss,
    });
  }
});
process.on('SIGTERM', () => {
  app.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
