/**
 * Mail that leaves the server out of band (sign-up confirmations and "already registered"
 * notices; README "Mail"). The server speaks no SMTP: a {@link Mailer} hands each message to a
 * transport, chosen by MAIL_WEBHOOK_URL:
 *
 * - unset: the log transport writes the whole message (link included) to the log at info and
 *   keeps the last few in memory ({@link Mailer.recent}) — development, and the tests' inbox;
 * - set: the webhook transport POSTs each message as JSON to that URL, a relay the operators run
 *   (their mail service, or an adapter to a provider's HTTP API). Nothing of the message but its
 *   kind and outcome is logged then, since links in it are credentials.
 *
 * `send` never waits on the transport: a caller's answer and its timing must not depend on
 * whether, or how fast, mail went out (sign-up answers the same for taken and free addresses).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';

/** What a message is about; relays may pick a template by it. */
export type MailKind = 'signUpConfirmation' | 'signUpAttempted';

export interface MailMessage {
  to: string;
  kind: MailKind;
  subject: string;
  /** The plain-text body. */
  text: string;
  /** The one link the message carries, if any (also inside `text`). */
  link?: string;
}

export interface SentMail extends MailMessage {
  sentAt: Date;
}

export interface Mailer {
  /** Hands a message over for delivery and returns at once; delivery failures are logged. */
  send(message: MailMessage): void;
  /**
   * With the log transport: the last {@link RECENT_LIMIT} messages handed over on this instance,
   * oldest first (a developer's and the tests' inbox). Empty with the webhook transport.
   */
  readonly recent: readonly SentMail[];
  /** Waits for deliveries in flight (at shutdown). */
  close(): Promise<void>;
}

export const RECENT_LIMIT = 50;

/** Tries per message on the webhook transport, and the wait before each retry. */
const WEBHOOK_RETRY_DELAYS_MS = [1_000, 5_000];
const WEBHOOK_TIMEOUT_MS = 10_000;

export function createMailer(config: Pick<Config, 'MAIL_WEBHOOK_URL'>, logger: Logger): Mailer {
  const log = logger.child({ component: 'mail' });
  return config.MAIL_WEBHOOK_URL ? new WebhookMailer(config.MAIL_WEBHOOK_URL, log) : new LogMailer(log);
}

class LogMailer implements Mailer {
  readonly recent: SentMail[] = [];
  constructor(private readonly log: Logger) {}

  send(message: MailMessage): void {
    this.recent.push({ ...message, sentAt: new Date() });
    if (this.recent.length > RECENT_LIMIT) this.recent.splice(0, this.recent.length - RECENT_LIMIT);
    this.log.info({ mail: message, transport: 'log' }, `mail to ${message.to}: ${message.subject} (not delivered: MAIL_WEBHOOK_URL is unset)`);
  }

  async close(): Promise<void> {}
}

class WebhookMailer implements Mailer {
  readonly recent: readonly SentMail[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  send(message: MailMessage): void {
    const delivery = this.deliver(message).finally(() => this.inFlight.delete(delivery));
    this.inFlight.add(delivery);
  }

  private async deliver(message: MailMessage): Promise<void> {
    const body = JSON.stringify(message);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (res.ok) {
          this.log.info({ kind: message.kind, status: res.status, attempt }, 'mail handed to the relay');
          return;
        }
        throw new Error(`relay answered ${res.status}`);
      } catch (err) {
        const delay = WEBHOOK_RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.closing) {
          // Lost: the person asks again (sign-up may be repeated); the log says it happened.
          this.log.error({ err, kind: message.kind, attempts: attempt + 1 }, 'mail could not be handed to the relay; dropped');
          return;
        }
        this.log.warn({ err, kind: message.kind, attempt }, 'mail relay failed; retrying');
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
  }

  async close(): Promise<void> {
    // Stopping waits a little for deliveries under way, then gives up on them (logged as dropped).
    this.closing = true;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => setTimeout(r, 2_000).unref())]);
  }
}
