/**
 * Conversation events, published once per change on `conversation:<conversationId>`, and inbox
 * events on `inbox:<userId>` (membership changes only: an inbox derives unread changes from the
 * channels of the conversations it follows, so a message to N members is still one event). Payloads carry everything a subscriber needs (the whole message),
 * so delivering to N subscribers costs no database query per subscriber.
 */
import type { MessageRecord } from './records.js';

export type ConversationEventType =
  | 'MESSAGE_ADDED'
  | 'MESSAGE_EDITED'
  | 'MESSAGE_DELETED'
  | 'REACTION_ADDED'
  | 'REACTION_REMOVED'
  | 'MESSAGE_PINNED'
  | 'MESSAGE_UNPINNED'
  | 'READ'
  | 'TYPING'
  | 'MEMBER_JOINED'
  | 'MEMBER_LEFT'
  | 'CONVERSATION_DELETED';

export interface ConversationEvent {
  type: ConversationEventType;
  conversationId: string;
  /**
   * MESSAGE_*: the message's seq. READ: the seq read up to. Others: the conversation's lastSeq
   * when the event happened. Lets a client tell a gap and resume.
   */
  seq: number;
  /**
   * The event's place in the conversation's stream in the staff numbering: messages and changes
   * to them (edits, deletes, reactions, pins), notes included, are numbered 1, 2, 3 … together, in
   * commit order. Absent for passing events (READ, TYPING, MEMBER_*, CONVERSATION_DELETED), which
   * are not replayed.
   */
  position?: number;
  /**
   * The same place in the customer's numbering of the stream (visibility.ts): public messages
   * and changes to them, 1, 2, 3 … with no holes. Absent for entries customers never see (notes
   * and changes to notes) and for passing events.
   */
  publicPosition?: number;
  /**
   * The seq in the customer's numbering of messages (visibility.ts): READ's read mark, other
   * events' lastPublicSeq. Message events need none (their message carries its publicSeq).
   */
  publicSeq?: number;
  message?: MessageRecord;
  /** REACTION_*: the emoji. */
  emoji?: string;
  /** The member concerned (READ, TYPING, MEMBER_*), or who reacted or pinned (REACTION_*, MESSAGE_(UN)PINNED). */
  userId?: string;
  /** TYPING about an internal note: for those who read notes only (visibility.ts). */
  internal?: boolean;
  /** TYPING: whether they are typing now. */
  typing?: boolean;
  /** TYPING: when the indicator lapses unless renewed (ISO). */
  expiresAt?: string;
  /** ISO time of the event. */
  at: string;
}

export type InboxEventType =
  | 'INBOX_READY'
  | 'CONVERSATION_ADDED'
  | 'CONVERSATION_OPENED'
  | 'UNREAD_CHANGED'
  | 'CONVERSATION_REMOVED';

export interface InboxEvent {
  type: InboxEventType;
  /** The conversation; null for INBOX_READY. */
  conversationId: string | null;
  /** The conversation's last seq (INBOX_READY: 0). */
  lastSeq: number;
  /**
   * The recipient's unread count in it (INBOX_READY: the total over the conversations followed);
   * null when the recipient is not a member (CONVERSATION_OPENED, for staff).
   */
  unreadCount: number | null;
  /** UNREAD_CHANGED after a new message: that message, as carried by the conversation's event. */
  message?: MessageRecord;
  /** lastSeq and unreadCount in the customer's numbering (visibility.ts), for inboxes that read the customer view. */
  public?: { lastSeq: number; unreadCount: number | null };
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    conversation: ConversationEvent;
    inbox: InboxEvent;
    /**
     * `workspaceConversations:<workspaceId>`: conversations opened by customers (visitor rooms,
     * agent/client threads) that the workspace's staff reach by role; followed by staff inboxes.
     */
    workspaceConversations: InboxEvent;
  }
}
