/**
 * Short-lived signed paths, so a browser can fetch a file with a plain `<img src>` (which sends
 * no Authorization header). The signature covers the path and the expiry; whoever holds the URL
 * may fetch that one path until it expires, so URLs are handed only to viewers who may read the
 * file, and live minutes (FILE_URL_TTL_SECONDS).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class UrlSigner {
  private readonly key: Buffer;
  constructor(secret: string) {
    // A key of its own, derived from the server secret, so a URL signature is never a token signature.
    this.key = createHmac('sha256', secret).update('signed-file-urls/v1').digest();
  }

  private mac(pathname: string, expires: number): string {
    return createHmac('sha256', this.key).update(`${pathname}\n${expires}`).digest('base64url');
  }

  /** `pathname?expires=<unix seconds>&signature=<mac>`. */
  sign(pathname: string, ttlSeconds: number, now = Date.now()): { url: string; expiresAt: Date } {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    return {
      url: `${pathname}?expires=${expires}&signature=${this.mac(pathname, expires)}`,
      expiresAt: new Date(expires * 1000),
    };
  }

  /** Whether the query carries a valid, unexpired signature for the path. */
  verify(pathname: string, query: URLSearchParams, now = Date.now()): boolean {
    const expires = Number(query.get('expires'));
    const signature = query.get('signature') ?? '';
    if (!Number.isInteger(expires) || expires * 1000 < now) return false;
    const expected = Buffer.from(this.mac(pathname, expires));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
