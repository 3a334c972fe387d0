/**
 * What a file is, judged from its bytes (the client's declared type and file name are never
 * trusted), and how it may be served back without a browser running it.
 */
import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';

export const OCTET_STREAM = 'application/octet-stream';
export const TEXT_PLAIN = 'text/plain';

/** Image types a browser only draws: served inline, so `<img src>` works. SVG is not one (it can run script). */
export const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/bmp']);

/** Bytes read before the type is decided (and the upload refused if the type is not allowed). */
export const SNIFF_BYTES = 64 * 1024;

/**
 * The content type of a file from its first bytes: a known signature (file-type), else
 * `text/plain` for UTF-8 text without NULs (HTML, scripts and SVG among them: they are only text
 * here), else `application/octet-stream`.
 */
export async function detectContentType(head: Buffer): Promise<string> {
  const detected = await fileTypeFromBuffer(head);
  if (detected) return detected.mime.toLowerCase();
  return looksLikeText(head) ? TEXT_PLAIN : OCTET_STREAM;
}

function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return true;
  if (head.includes(0)) return false;
  // The head may end inside a multi-byte character: drop up to three trailing bytes of one.
  for (let cut = 0; cut <= Math.min(3, head.length - 1); cut++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length - cut));
      return true;
    } catch {
      // try a shorter head
    }
  }
  return false;
}

/** Width and height of an image from its first bytes, when they say; null otherwise. */
export function imageDimensions(contentType: string, head: Buffer): { width: number; height: number } | null {
  if (!contentType.startsWith('image/')) return null;
  try {
    const size = imageSize(head);
    if (!size.width || !size.height) return null;
    // EXIF orientations 5-8 rotate by 90 degrees: report what is shown.
    const turned = size.orientation !== undefined && size.orientation >= 5;
    return turned ? { width: size.height, height: size.width } : { width: size.width, height: size.height };
  } catch {
    return null;
  }
}

/** Whether `type` matches one of the patterns (`type/subtype`, `type/*`, `type/prefix.*`, or `*`). */
export function isAllowedType(type: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => {
    if (p === '*' || p === '*/*') return true;
    if (p.endsWith('*')) return type.startsWith(p.slice(0, -1));
    return type === p;
  });
}

/** Whether the file is shown inline (an image a browser only draws). */
export function isInlineImage(contentType: string): boolean {
  return INLINE_IMAGE_TYPES.has(contentType);
}

/**
 * The Content-Type a file is served with. Detection never yields HTML (text is text/plain), but
 * anything a browser could render as a document or run as script is served as bytes anyway.
 */
export function servedContentType(contentType: string): string {
  if (contentType === TEXT_PLAIN) return 'text/plain; charset=utf-8';
  if (/html|xml|svg|javascript|ecmascript|x-sh\b|wasm/.test(contentType)) return OCTET_STREAM;
  return contentType;
}

/**
 * A display name from the client's file name: the last path segment (so `../../etc/passwd` is
 * `passwd`), without control or bidirectional-override characters, at most 255 characters.
 * Only ever shown; never used to name anything on disk.
 */
export function displayName(raw: string | undefined | null): string {
  const last = String(raw ?? '').split(/[/\\]/).pop() ?? '';
  const clean = last
    .normalize('NFC')
    // Control characters are what this strips: the rule against them in patterns is for typos.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '')
    .trim()
    .replace(/^\.+$/, '');
  return [...clean].slice(0, 255).join('') || 'file';
}

/** Content-Disposition with an ASCII fallback name and the exact UTF-8 name (RFC 6266, RFC 8187). */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
