/**
 * Rate limits for the legacy shim's sockets: each Socket.IO event and each raw-socket frame spends
 * a point of its client's address and of its legacy identity (RATE_LIMIT_LEGACY_ADDRESS,
 * RATE_LIMIT_LEGACY_IDENTITY). Legacy REST requests spend the address's (src/compat/rest/router.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/env.js';
import { clientAddress } from './address.js';
import type { Defenses } from './index.js';
import { refuse } from './refusal.js';

/** Asks before each event or frame: null to go on, else how long until the client may try again (ms). */
export type Gate = () => Promise<number | null>;

/**
 * A gate for one legacy socket. `identity` names who the socket acts as (a user, a consumer, a
 * token); it is hashed, so no credential lands in Redis keys or logs.
 */
export function legacyGate(defenses: Defenses, config: Config, req: IncomingMessage, identity: string): Gate {
  const address = clientAddress(req, config.TRUST_PROXY) ?? 'unknown';
  const who = createHash('sha256').update(identity).digest('base64url').slice(0, 22);
  return async () => {
    for (const [setting, key] of [
      ['RATE_LIMIT_LEGACY_ADDRESS', address],
      ['RATE_LIMIT_LEGACY_IDENTITY', who],
    ] as const) {
      const refusal = await defenses.rateLimits.consume(setting, key);
      if (refusal?.kind === 'rate') {
        refuse(defenses.logger, refusal, { address, path: (req.url ?? '').split('?')[0] });
        return refusal.retryAfterMs;
      }
    }
    return null;
  };
}

/** The legacy answer to a throttled call, as Django REST framework words it. */
export function throttledMessage(retryAfterMs: number): string {
  return `Request was throttled. Expected available in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} seconds.`;
}
