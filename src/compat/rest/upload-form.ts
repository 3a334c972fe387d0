/**
 * A legacy multipart form with one file (legacy 004's chat attachment), streamed: its text fields,
 * then the file handed over unread as the `Upload` scalar's value, so the product's upload
 * mutation reads it straight from the request, as it reads a GraphQL multipart request's files.
 */
import type { ReadStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { Upload, type FileUpload } from 'graphql-upload-minimal';

/** The form's text fields together, and the multipart framing around the file, may not exceed this. */
export const MAX_FORM_FIELDS_BYTES = 1024 * 1024;

export interface FilePart {
  stream: Readable & { truncated?: boolean };
  filename: string;
  mimeType: string;
  encoding: string;
}

export interface UploadForm {
  /** The text fields that came before the file (all of them when no file came). */
  fields: Record<string, string>;
  /** The file part, unread; null when the form had none. */
  file: FilePart | null;
  /** Resolves once the whole body is read: null, or why it could not be (malformed, broken off). */
  finished: Promise<Error | null>;
}

/**
 * Reads a multipart body up to its file part (`fileField`) and hands that part over unread, so the
 * file streams on into storage with the request's own backpressure: nothing is held in memory
 * but a few chunks. busboy stops the file one byte over `maxFileBytes` (as graphql-upload-minimal
 * does), so the upload pipeline sees the overflow and refuses it. Parts after the file, and any
 * other file, are read and dropped.
 */
export function readUploadForm(req: IncomingMessage, fileField: string, maxFileBytes: number): Promise<UploadForm> {
  return new Promise((resolveForm) => {
    const fields: Record<string, string> = {};
    let handedOver = false;
    let resolveFinished!: (err: Error | null) => void;
    const finished = new Promise<Error | null>((r) => (resolveFinished = r));
    const hand = (file: FilePart | null) => {
      if (handedOver) return;
      handedOver = true;
      resolveForm({ fields: { ...fields }, file, finished });
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { fieldSize: MAX_FORM_FIELDS_BYTES, fields: 20, files: 5, parts: 30, fileSize: maxFileBytes + 1 },
      });
    } catch (err) {
      // No boundary, or not multipart at all.
      req.resume();
      resolveFinished(err as Error);
      hand(null);
      return;
    }
    parser.on('field', (name: string, value: string) => {
      if (!handedOver) fields[name] = value;
    });
    parser.on('file', (name: string, stream: Readable, info: busboy.FileInfo) => {
      // A file stream that errors with no listener would throw: the upload pipeline adds its own.
      stream.on('error', () => undefined);
      if (handedOver || name !== fileField) {
        stream.resume();
        return;
      }
      hand({ stream, filename: info.filename ?? '', mimeType: info.mimeType, encoding: info.encoding });
    });
    parser.on('error', (err: Error) => {
      req.unpipe(parser);
      req.resume();
      resolveFinished(err);
      hand(null);
    });
    parser.on('close', () => {
      resolveFinished(null);
      hand(null);
    });
    // A client that goes away mid-upload: the file stream errors, so the upload stores nothing.
    req.once('close', () => {
      if (!req.complete) parser.destroy(new Error('The request broke off.'));
    });
    req.pipe(parser);
  });
}

/** An Upload scalar value (what graphql-upload-minimal's request parser makes) over one form part. */
export function uploadOf(part: FilePart): Upload {
  const upload = new Upload() as Upload & { resolve(file: FileUpload): void };
  let taken = false;
  upload.resolve({
    fieldName: 'file',
    filename: part.filename,
    mimetype: part.mimeType,
    encoding: part.encoding,
    createReadStream: () => {
      if (taken) throw new Error('The file was already read.');
      taken = true;
      return part.stream as unknown as ReadStream;
    },
  });
  return upload;
}
