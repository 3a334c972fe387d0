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

/** Legacy 004: sizes like "86.73KB" (and "0kb" for no file, as the document shows). */
export function humanSize(bytes: number | null | undefined): string {
  if (!bytes) return '0kb';
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(2)}${units[unit]}`;
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
