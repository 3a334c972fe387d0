/**
 * One log line when a dependency (the database, Redis) goes down and one when it is back, with
 * the outage's start and length, instead of a line per failed request or reconnection attempt
 * (thousands a second under load). Errors during the outage are counted and go to debug.
 */
import type { Logger } from 'pino';

export class OutageLog {
  /** Down since (ms since epoch), or null while up. */
  private since: number | null = null;
  private why = '';
  private failures = 0;
  /** Whether the dependency was ever up: a dependency still starting is not in an outage. */
  seenUp = false;
  /** Outages so far (for metrics). */
  count = 0;
  private readonly listeners = new Set<(up: boolean) => void>();

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  get down(): boolean {
    return this.since !== null;
  }

  get reason(): string | undefined {
    return this.since === null ? undefined : this.why;
  }

  /** Called on each change between up and down. */
  onChange(listener: (up: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The dependency is failing (`reason` says how); logs only when this opens an outage. */
  began(reason: string, err?: unknown): void {
    this.failures++;
    if (this.since !== null) {
      this.why = reason;
      return;
    }
    this.since = Date.now();
    this.why = reason;
    this.failures = 1;
    this.count++;
    this.logger.error({ err, outage: this.what, reason, since: new Date(this.since).toISOString() }, `${this.what} unavailable: outage began`);
    for (const listener of this.listeners) listener(false);
  }

  /** The dependency answers again; logs only when this closes an outage. */
  ended(): void {
    this.seenUp = true;
    if (this.since === null) return;
    const since = this.since;
    this.since = null;
    this.logger.warn(
      { outage: this.what, since: new Date(since).toISOString(), until: new Date().toISOString(), durationMs: Date.now() - since, failures: this.failures },
      `${this.what} available again: outage ended`,
    );
    for (const listener of this.listeners) listener(true);
  }

  /** An error of the dependency's client: opens an outage when none is open (once it was up). */
  error(err: unknown, context: Record<string, unknown> = {}): void {
    if (this.since !== null || !this.seenUp) {
      this.failures++;
      this.logger.debug({ err, ...context }, `${this.what} error during an outage`);
      return;
    }
    this.began((err as Error)?.message ?? String(err), err);
  }
}
