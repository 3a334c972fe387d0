/**
 * How the mutations reach this instance's call worker (ring timers) without a field on the
 * shared Services: the worker registers itself under `services.connections`, an object every
 * request context carries by reference (contexts are shallow copies of the services).
 */
import type { Services } from '../../graphql/context.js';

export interface RingTimers {
  /** Turns the call MISSED at `ringUntil` unless something else settles it first. */
  arm(callId: string, ringUntil: string): void;
  disarm(callId: string): void;
  /** Resolves when the work started so far (timeouts, disconnect checks) has finished; for tests. */
  settled(): Promise<void>;
}

const registry = new WeakMap<object, RingTimers>();

export function registerRingTimers(services: Services, timers: RingTimers | null): void {
  if (timers) registry.set(services.connections, timers);
  else registry.delete(services.connections);
}

/** This instance's ring timers, or undefined when no worker runs (the sweep then settles calls). */
export function ringTimers(services: Services): RingTimers | undefined {
  return registry.get(services.connections);
}
