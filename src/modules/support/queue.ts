/**
 * The customer's view of the queue: where a ticket stands and how long it should wait.
 *
 * The queue is first come, first served: a ticket's queueNumber is the workspace desk's version
 * when it entered the queue (opened or reopened), and line managers take from its head. So a
 * waiting customer's position only ever falls.
 *
 * The estimated wait comes from measured serving times: each line manager serves `capacity`
 * tickets at a time, each taking their average serving time (assignment to close; a seeded legacy
 * average counts as one served ticket), so together they free about Σ capacity / average
 * tickets a second, and the ticket at position p waits about p / that rate. Line managers with no
 * average yet count at the mean of those who have one; with no measure at all it is unknown.
 */
import type { PrismaClient } from '../../generated/prisma/client.js';

/** Below this, a measured average is taken as this (a ticket closed within a second says little). */
const MIN_SERVING_SECONDS = 1;

export interface ServingStats {
  seededServingSeconds: number | null;
  servedTicketCount: number;
  servingSecondsTotal: number;
}

/** A line manager's average serving time in seconds, or null before anything is known. */
export function averageServingSeconds(lm: ServingStats): number | null {
  const samples = lm.servedTicketCount + (lm.seededServingSeconds !== null ? 1 : 0);
  if (samples === 0) return null;
  return (lm.servingSecondsTotal + (lm.seededServingSeconds ?? 0)) / samples;
}

/** Tickets the workspace's active line managers free per second, or null when unknown. */
export async function serviceRate(db: Pick<PrismaClient, 'lineManager'>, workspaceId: string): Promise<number | null> {
  const lms = await db.lineManager.findMany({
    where: { workspaceId, active: true, capacity: { gt: 0 } },
    select: { capacity: true, seededServingSeconds: true, servedTicketCount: true, servingSecondsTotal: true },
  });
  const averages = lms.map(averageServingSeconds);
  const known = averages.filter((a): a is number => a !== null);
  if (known.length === 0) return null;
  const fallback = known.reduce((s, a) => s + a, 0) / known.length;
  let rate = 0;
  lms.forEach((lm, i) => {
    rate += lm.capacity / Math.max(MIN_SERVING_SECONDS, averages[i] ?? fallback);
  });
  return rate > 0 ? rate : null;
}

/** Seconds the ticket at `position` should wait, or null when unknown. */
export function estimateWait(position: number | null, rate: number | null): number | null {
  if (position === null || rate === null) return null;
  return Math.round(position / rate);
}

/** A queued ticket's position (1 = next), or null when it is not queued. */
export async function queuePosition(
  db: Pick<PrismaClient, 'supportTicket'>,
  ticket: { workspaceId: string; status: string; queueNumber: number },
): Promise<number | null> {
  if (ticket.status !== 'OPEN') return null;
  const ahead = await db.supportTicket.count({
    where: { workspaceId: ticket.workspaceId, status: 'OPEN', queueNumber: { lt: ticket.queueNumber } },
  });
  return ahead + 1;
}
