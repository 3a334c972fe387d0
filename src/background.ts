/**
 * Work a module runs beside the server for its lifetime: timers (lease expiry, urgency as time
 * passes) and listeners on services (connections closing). Modules register a task when imported;
 * buildApp starts every task once its services exist and stops them before closing pub/sub and
 * the database, so a task never outlives what it uses.
 */
import type { Services } from './graphql/context.js';

/** Starts the work and returns how to stop it. */
export type BackgroundTask = (services: Services) => () => void | Promise<void>;

const tasks: BackgroundTask[] = [];

/** Registers a task; call once, at import time. */
export function runInBackground(task: BackgroundTask): void {
  tasks.push(task);
}

/** Starts every registered task; the returned function stops them all. */
export function startBackground(services: Services): () => Promise<void> {
  const stops = tasks.map((task) => task(services));
  return async () => {
    await Promise.all(stops.map(async (stop) => stop()));
  };
}
