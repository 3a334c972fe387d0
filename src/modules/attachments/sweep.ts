/**
 * Removes stored bytes that no message holds: pending attachments left by a request that died
 * between storing a file and committing its message, and files whose rows went with a deleted
 * conversation (rows cascade; bytes do not), and partial files a stopped process left mid-upload.
 * Only things older than `graceMs` are touched, so an upload in progress is never swept.
 */
import type { Services } from '../../graphql/context.js';

const BATCH = 500;

export async function sweepOrphanFiles(services: Services, graceMs = 60 * 60 * 1000): Promise<{ removed: number }> {
  const before = new Date(Date.now() - graceMs);
  let removed = 0;
  const stale = await services.db.attachment.findMany({
    where: { messageId: null, createdAt: { lt: before } },
    select: { id: true },
    take: 10_000,
  });
  for (const { id } of stale) {
    await services.storage.delete(id);
    await services.db.attachment.deleteMany({ where: { id, messageId: null } });
    removed++;
  }
  let batch: string[] = [];
  const flush = async () => {
    const known = new Set(
      (await services.db.attachment.findMany({ where: { id: { in: batch } }, select: { id: true } })).map((r) => r.id),
    );
    for (const key of batch) {
      if (!known.has(key)) {
        await services.storage.delete(key);
        removed++;
      }
    }
    batch = [];
  };
  for await (const object of services.storage.list()) {
    if (object.modifiedAt >= before) continue;
    batch.push(object.key);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length) await flush();
  // Partial writes of a process that stopped mid-upload: no row names them and no put will finish them.
  removed += await services.storage.removePartial(before);
  return { removed };
}

/** Sweeps an hour after start and then hourly; returns a stop function. */
export function startFileSweeper(services: Services, everyMs = 60 * 60 * 1000): () => void {
  const log = services.logger.child({ component: 'files' });
  const run = () =>
    sweepOrphanFiles(services).then(
      ({ removed }) => removed && log.info({ removed }, 'swept stored files no message holds'),
      (err: unknown) => log.warn({ err }, 'sweeping stored files failed'),
    );
  const timer = setInterval(run, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
