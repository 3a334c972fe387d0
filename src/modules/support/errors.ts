/** The support desk's own expected error. */
import { ConflictError } from '../../graphql/errors.js';

/**
 * Another agent holds a claim on the conversation (or the message): the claim or reply is
 * refused, naming the holder and when the claim lapses unless renewed.
 */
export class ClaimHeldError extends ConflictError {
  readonly holderId: string;
  readonly holderName: string;
  readonly expiresAt: Date;
  readonly messageId: string | null;
  constructor(holder: { id: string; displayName: string }, expiresAt: Date, messageId: string | null) {
    super(
      `${holder.displayName} (${holder.id}) is working on this ${messageId ? 'message' : 'conversation'}; ` +
        `their claim lapses at ${expiresAt.toISOString()} unless renewed.`,
    );
    this.extensions.holderId = holder.id;
    this.extensions.holderName = holder.displayName;
    this.extensions.expiresAt = expiresAt.toISOString();
    this.holderId = holder.id;
    this.holderName = holder.displayName;
    this.expiresAt = expiresAt;
    this.messageId = messageId;
  }
}
