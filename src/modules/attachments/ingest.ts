/**
 * One uploaded file from the request stream into storage, in a single pass: bytes are counted,
 * hashed (SHA-256) and written as they arrive, and the first SNIFF_BYTES decide the content type.
 * A file over the size limit, or of a type not allowed, is refused at the chunk that shows it,
 * long before the upload would be whole; storage then removes what it had written, so a refused
 * upload leaves nothing. Memory stays at a few chunks plus the sniffed head, whatever the size.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FileUpload } from 'graphql-upload-minimal';
import type { FileStorage } from '../../storage/index.js';
import { detectContentType, displayName, imageDimensions, isAllowedType, SNIFF_BYTES } from './content-types.js';

export interface UploadLimits {
  maxBytes: number;
  allowedTypes: readonly string[];
}

export interface IngestedFile {
  /** The attachment id and storage key. */
  id: string;
  name: string;
  size: number;
  contentType: string;
  sha256: string;
  width: number | null;
  height: number | null;
}

/** An upload refused for what it is (too large, empty, a type not allowed) or for how it arrived. */
export class UploadRefused extends Error {
  constructor(
    message: string,
    readonly reason: 'too-large' | 'empty' | 'type' | 'incomplete',
  ) {
    super(message);
    this.name = 'UploadRefused';
  }
}

function megabytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB` : `${bytes} bytes`;
}

class Inspector extends Transform {
  size = 0;
  contentType: string | undefined;
  private readonly hash = createHash('sha256');
  private head: Buffer[] = [];
  private headLength = 0;
  sniffed: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: UploadLimits) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.limits.maxBytes) {
      callback(new UploadRefused(`is larger than the ${megabytes(this.limits.maxBytes)} limit`, 'too-large'));
      return;
    }
    this.hash.update(chunk);
    if (this.contentType !== undefined) {
      callback(null, chunk);
      return;
    }
    this.head.push(chunk);
    this.headLength += chunk.length;
    if (this.headLength < SNIFF_BYTES) {
      callback(null, chunk);
      return;
    }
    this.decide().then(() => callback(null, chunk), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size === 0) {
      callback(new UploadRefused('is empty', 'empty'));
      return;
    }
    (this.contentType === undefined ? this.decide() : Promise.resolve()).then(() => callback(), callback);
  }

  private async decide(): Promise<void> {
    this.sniffed = Buffer.concat(this.head, this.headLength);
    this.head = [];
    this.contentType = await detectContentType(this.sniffed);
    if (!isAllowedType(this.contentType, this.limits.allowedTypes)) {
      throw new UploadRefused(`is of a type that is not allowed (${this.contentType})`, 'type');
    }
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * Streams one upload into storage under a new id. Throws UploadRefused (nothing stored) when a
 * limit refuses it or the request breaks off; other errors (storage failing) propagate as they are.
 */
export async function ingestUpload(storage: FileStorage, upload: FileUpload, limits: UploadLimits): Promise<IngestedFile> {
  let source: Readable;
  try {
    source = upload.createReadStream() as unknown as Readable;
  } catch (err) {
    // graphql-upload-minimal refuses a second read of one file (the same file mapped to two
    // variables) and a file its parser already cut at the size limit.
    const tooLarge = (err as { status?: number }).status === 413;
    throw new UploadRefused(
      tooLarge ? `is larger than the ${megabytes(limits.maxBytes)} limit` : `could not be read (${(err as Error).message})`,
      tooLarge ? 'too-large' : 'incomplete',
    );
  }
  const inspector = new Inspector(limits);
  // graphql-upload-minimal's busboy stops a file at its own limit (set one byte above ours) and
  // ends the stream; treat that as too large too rather than as a short file.
  const onLimit = () => inspector.destroy(new UploadRefused(`is larger than the ${megabytes(limits.maxBytes)} limit`, 'too-large'));
  const onSourceError = (err: Error) => inspector.destroy(new UploadRefused(`did not arrive whole (${err.message})`, 'incomplete'));
  // Until storage takes the stream, an early failure (an empty file ends at once) has no listener;
  // the stream keeps it as `errored`, and storage's pipeline rethrows it.
  inspector.on('error', () => undefined);
  source.once('limit', onLimit);
  source.once('error', onSourceError);
  source.pipe(inspector);
  const id = randomUUID();
  try {
    await storage.put(id, inspector);
  } catch (err) {
    // Keep the multipart parser moving: the rest of this file is read and dropped, so later
    // files of the request (and the response) are not held up behind it.
    source.unpipe(inspector);
    source.resume();
    throw err;
  } finally {
    source.off('limit', onLimit);
    source.off('error', onSourceError);
  }
  const contentType = inspector.contentType!;
  const dimensions = imageDimensions(contentType, inspector.sniffed);
  return {
    id,
    name: displayName(upload.filename),
    size: inspector.size,
    contentType,
    sha256: inspector.digest(),
    width: dimensions?.width ?? null,
    height: dimensions?.height ?? null,
  };
}
