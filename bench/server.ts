/**
 * The chat server, in a process of its own: built from the environment like src/main.ts (and
 * from the compiled dist/, as `npm start` runs it), it
 * reports its URL to the orchestrator over IPC and answers two requests:
 *   { type: 'stats' }: its database, pub/sub and shared-execution counters, and the CPU time and
 *     write system calls it has used so far (lib.ts usage()), for both per delivery;
 *   { type: 'append', conversationId, authorId, concurrency, seconds }: calls the message pipeline
 *     directly (no HTTP, GraphQL or authentication) and reports how many it wrote, to tell the
 *     persistence pipeline's capacity from the request path's.
 */
import v8 from 'node:v8';
import { usage } from './lib.js';

// On PostgreSQL, WebAssembly on V8's baseline compiler only, as scripts/start.mjs sets it for
// `npm start` (why: there), before anything below compiles Prisma's query compiler.
if (process.env.DATABASE_URL) v8.setFlagsFromString('--liftoff-only');

// The compiled server (dist/, built by run.ts before it forks this), as `npm start` runs it;
// the types are the sources'.
const load = <T>(module: string): Promise<T> => import(new URL(`../dist/${module}`, import.meta.url).href) as Promise<T>;
const { buildApp } = await load<typeof import('../src/app.js')>('app.js');
const { loadConfig } = await load<typeof import('../src/config/env.js')>('config/env.js');
const { createLogger } = await load<typeof import('../src/logger.js')>('logger.js');

const config = loadConfig();
const app = await buildApp(config, { logger: createLogger(config.LOG_LEVEL, 'bench-server') });
const url = await app.start();
process.send!({ type: 'ready', url, database: app.database.kind, pubsub: app.services.pubsub.kind });

type Request =
  | { type: 'stats' }

  | { type: 'append'; conversationId: string; authorId: string; concurrency: number; seconds: number };

process.on('message', (msg: Request) => {
  if (msg.type === 'stats') {
    process.send!({
      type: 'stats',
      database: { ...app.database.stats },
      pubsub: { ...app.services.pubsub.stats },
      sharedExecution: { ...app.sharedExecution },
      memory: process.memoryUsage().rss,
      ...usage(),
    });
  } else if (msg.type === 'append') {
    void (async () => {
      const before = app.database.stats.statements;
      const started = performance.now();
      const deadline = started + msg.seconds * 1000;
      let written = 0;
      await Promise.all(
        Array.from({ length: msg.concurrency }, async () => {
          while (performance.now() < deadline) {
            await app.services.pipeline.append(app.services, { conversationId: msg.conversationId, authorId: msg.authorId, body: `direct ${written}` });
            written++;
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      process.send!({ type: 'appended', perSecond: written / seconds, statements: (app.database.stats.statements - before) / Math.max(1, written) });
    })();
  }
});
process.on('SIGTERM', () => {
  app.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
