/**
 * Conversation events, published once per change on `conversation:<conversationId>`, and inbox
 * events on `inbox:<userId>`. Payloads carry everything a subscriber needs (the whole message),
 * so delivering to N subscribers costs no database query per subscriber.
 */
import type { MessageRecord } from './records.js';

export type ConversationEventType =
  | 'MESSAGE_ADDED'
  | 'MESSAGE_EDITED'
  | 'MESSAGE_DELETED'
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
  message?: MessageRecord;
  /** The member concerned (READ, TYPING, MEMBER_*). */
  userId?: string;
  /** TYPING: whether they are typing now. */
  typing?: boolean;
  /** TYPING: when the indicator lapses unless renewed (ISO). */
  expiresAt?: string;
  /** ISO time of the event. */
  at: string;
}

export type InboxEventType = 'CONVERSATION_ADDED' | 'UNREAD_CHANGED' | 'CONVERSATION_REMOVED';

export interface InboxEvent {
  type: InboxEventType;
  conversationId: string;
  /** The conversation's last seq. */
  lastSeq: number;
  /** The recipient's unread count in it. */
  unreadCount: number;
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    conversation: ConversationEvent;
    inbox: InboxEvent;
  }
}
