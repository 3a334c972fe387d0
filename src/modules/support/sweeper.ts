/**
 * The support desk's background work, one per app: every SUPPORT_SWEEP_INTERVAL_MS it releases
 * lapsed claims and recomputes urgency as customers' waits grow; and when a user's last live
 * connection on this instance closes and they have none on any other instance either (presence's
 * `connectedAmong`, in Redis across instances), it releases the claims they hold.
 *
 * Started after presence (whose listener records the closed connection before this one asks) and
 * stopped before the WebSockets close, like the call worker: a deploy's shutdown does not release the claims of agents who reconnect elsewhere; the
 * lease bounds those who do not.
 */
import type { Services } from '../../graphql/context.js';
import { expireLapsedClaims, releaseClaimsOf } from './claims.js';
import { sweepUrgency } from './attention.js';

/** Starts the sweeps and the disconnect listener; the returned function stops them and waits for their work. */
export function startSupportSweeper(services: Services): () => Promise<void> {
  const logger = services.logger.child({ component: 'support' });
  const pending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const onClosed = (info: { userId: string | null }, { remaining }: { remaining: number }) => {
    const userId = info.userId;
    if (remaining > 0 || !userId) return;
    track(
      (async () => {
        // Still connected through another instance: the claim stays (its lease still bounds it).
        if ((await services.presence.connectedAmong([userId])).has(userId)) return;
        await releaseClaimsOf(services, userId, 'DISCONNECTED');
      })().catch((err: unknown) =>
        // During a Redis outage ("connected anywhere?" cannot be answered) its own line says it.
        services.presence.unavailable
          ? logger.debug({ err }, 'releasing a disconnected holder’s claims failed during a Redis outage; the lease will end them')
          : logger.error({ err }, 'releasing a disconnected holder’s claims failed; the lease will end them'),
      ),
    );
  };
  services.connections.on('closed', onClosed);

  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    track(
      (async () => {
        await expireLapsedClaims(services);
        await sweepUrgency(services);
      })()
        // During a database outage its own lines say it (once), not one per sweep.
        .catch((err: unknown) => (services.databaseHealth.classify(err) ? undefined : logger.error({ err }, 'support sweep failed')))
        .finally(() => (sweeping = false)),
    );
  }, services.config.SUPPORT_SWEEP_INTERVAL_MS);
  timer.unref();

  return async () => {
    clearInterval(timer);
    services.connections.off('closed', onClosed);
    await Promise.allSettled([...pending]);
  };
}
