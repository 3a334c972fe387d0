/** Value formats of the legacy documents, in one place. */

/** Legacy 000: "2023-05-01T09:47+00:00" (minutes, explicit UTC offset). */
export function minuteTimestamp(iso: string): string {
  return `${iso.slice(0, 16)}+00:00`;
}

/** Legacy 004 REST: "2024-06-17T11:28:21.902531Z" (microseconds, Z). */
export function microTimestamp(iso: string): string {
  return `${iso.slice(0, 23)}000Z`;
}

/** Legacy 004 socket: "2024-06-17T12:48:28.228342+00:00" (microseconds, +00:00). */
export function microOffsetTimestamp(iso: string): string {
  return `${iso.slice(0, 23)}000+00:00`;
}

/**
 * Legacy 004 `attached_file_size`: kilobytes below a megabyte ("86.73KB"), megabytes above
 * ("3.00MB"), and "0kb" for a message with no file, as the document shows.
 */
export function legacyFileSize(bytes: number | null | undefined): string {
  if (!bytes) return '0kb';
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(2)}KB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)}MB`;
}

/** Legacy 004's envelope. */
export interface Envelope<T> {
  status: 'success' | 'failure';
  entity: T | null;
  message: string | null;
  success: boolean;
}

export function success<T>(entity: T, message: string | null = null): Envelope<T> {
  return { status: 'success', entity, message, success: true };
}

export function failure(message: string): Envelope<never> {
  return { status: 'failure', entity: null, message, success: false };
}
