/**
 * An attachment as it travels inside a MessageRecord: JSON-safe, read once with the message and
 * carried whole in its events, so subscribers need no query to show it.
 */
export interface AttachmentRecord {
  id: string;
  /** The client's file name, for display only. */
  name: string;
  size: number;
  /** Detected from the bytes. */
  contentType: string;
  sha256: string;
  width: number | null;
  height: number | null;
}

/** The Prisma selection of an attachment, as nested in the message selection. */
export const attachmentSelect = {
  id: true,
  name: true,
  size: true,
  contentType: true,
  sha256: true,
  width: true,
  height: true,
} as const;

export type AttachmentRow = AttachmentRecord;

export function toAttachmentRecord(row: AttachmentRow): AttachmentRecord {
  return {
    id: row.id,
    name: row.name,
    size: row.size,
    contentType: row.contentType,
    sha256: row.sha256,
    width: row.width,
    height: row.height,
  };
}
