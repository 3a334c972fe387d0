/**
 * Redis connections made one way. Each connection reports its failures through an
 * {@link OutageLog}: one line when Redis goes away and one when it is back, however many
 * reconnection attempts fall in between (ioredis retries every few hundred ms, and a line per
 * attempt per connection buried the outage's own lines: 40+ a second across an instance's
 * connections). The pub/sub's two connections add their own readiness tracking (pubsub.ts).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { OutageLog } from '../observability/outage.js';

export interface RedisConnection {
  client: Redis;
  /** Whether this connection is in an outage, and since when (its lines are logged once). */
  outage: OutageLog;
  /** Closes the connection, politely when Redis answers, at once when it does not. */
  close(): Promise<void>;
}

/**
 * A connection for `role` (named in its log lines: "Redis (presence)"); `options` say how its
 * commands behave while Redis is down (queue and retry, or fail at once).
 */
export function connectRedis(url: string, role: string, logger: Logger, options: RedisOptions = {}): RedisConnection {
  const client = new Redis(url, options);
  const outage = new OutageLog(logger, `Redis (${role})`);
  client.on('error', (err) => outage.error(err, { role }));
  client.on('ready', () => outage.ended());
  // A closed connection is an outage even before ioredis reports an error for it.
  client.on('reconnecting', () => {
    if (outage.seenUp) outage.began('reconnecting');
  });
  return {
    client,
    outage,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
