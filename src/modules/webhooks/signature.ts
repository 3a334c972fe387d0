/**
 * How deliveries are signed, in the two forms integrators already verify:
 *
 * - `Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` — as
 *   Stripe's `Stripe-Signature`: the timestamp is signed with the body, so a receiver can refuse
 *   replays older than its tolerance (5 minutes is usual). Several `v1=` may follow one `t=`;
 *   a receiver accepts when any matches (room for secret rotation later).
 * - `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` — as GitHub's, for
 *   receivers and libraries built for it; it has no timestamp, so no replay window.
 *
 * `t` is the time of the attempt, not of the event: a retry an hour later is signed fresh.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'webhook-signature';
export const GITHUB_SIGNATURE_HEADER = 'x-hub-signature-256';

export function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

/** The two signature headers for a body sent at `timestamp` (unix seconds). */
export function signatureHeaders(secret: string, body: string, timestamp: number): Record<string, string> {
  return {
    [SIGNATURE_HEADER]: `t=${timestamp},v1=${hmacHex(secret, `${timestamp}.${body}`)}`,
    [GITHUB_SIGNATURE_HEADER]: `sha256=${hmacHex(secret, body)}`,
  };
}

/**
 * Verifies a `Webhook-Signature` header the way a receiver should: parse, recompute over the raw
 * body, compare in constant time, refuse a timestamp outside the tolerance. The README shows the
 * same steps for receivers; the tests use this to check what a real receiver got.
 */
export function verifySignature(secret: string, body: string, header: string | undefined, toleranceSeconds = 300, now = Date.now()): boolean {
  if (!header) return false;
  let timestamp: number | null = null;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => s.trim());
    if (key === 't' && value && /^\d+$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && value) signatures.push(value);
  }
  if (timestamp === null || signatures.length === 0) return false;
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, `${timestamp}.${body}`), 'hex');
  return signatures.some((s) => {
    const given = Buffer.from(s, 'hex');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
