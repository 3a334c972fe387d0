/**
 * Urgency (legacy 001 "surface urgent messages first"): a score from three things, recomputed
 * whenever one changes (a message, a reply, a priority) and, for the wait, as time passes:
 *
 * - priority: LOW 0, NORMAL 10, HIGH 30, URGENT 60;
 * - how long the customer's oldest unanswered message has waited: 2 points a minute, at most 50;
 * - what the unanswered messages say: 15 points for each kind of alarm word (urgent, refund,
 *   down, cancel, security), at most 45.
 *
 * At 60 or more a conversation is urgent: URGENT priority alone, or a NORMAL ticket that waited
 * 25 minutes, or one whose customer asks for a refund because the service is down and has
 * waited 10 minutes. Agents' queues are ordered by the score, longest waiting first on a tie.
 */
import type { TicketPriority } from '../../generated/prisma/enums.js';

export const PRIORITY_POINTS: Record<TicketPriority, number> = { LOW: 0, NORMAL: 10, HIGH: 30, URGENT: 60 };
export const WAIT_POINTS_PER_MINUTE = 2;
export const WAIT_POINTS_MAX = 50;
export const KEYWORD_POINTS = 15;
export const KEYWORD_POINTS_MAX = 45;
export const URGENT_AT = 60;

/** Alarm words by kind; a kind counts once however often its words appear. */
const KEYWORDS: ReadonlyArray<readonly [string, RegExp]> = [
  ['urgent', /\b(urgent(ly)?|asap|emergency|immediately)\b/i],
  ['refund', /\b(refund(s|ed)?|money back|charge ?backs?)\b/i],
  ['down', /\b(down|outage|offline|not working|broken|crash(es|ed|ing)?)\b/i],
  ['cancel', /\b(cancel(s|led|ling|lation)?|unsubscribe|close my account)\b/i],
  ['security', /\b(hacked|breach(ed)?|fraud|stolen)\b/i],
];

/** The kinds of alarm word a text contains. */
export function keywordsIn(text: string): string[] {
  return KEYWORDS.filter(([, re]) => re.test(text)).map(([kind]) => kind);
}

export interface UrgencyInput {
  priority: TicketPriority;
  /** The customer's oldest unanswered message (or the ticket's opening); null when answered. */
  awaitingSince: Date | null;
  keywords: readonly string[];
}

export interface Urgency {
  score: number;
  urgent: boolean;
  priority: TicketPriority;
  priorityPoints: number;
  waitPoints: number;
  keywordPoints: number;
  keywords: string[];
  waitingSince: Date | null;
  waitingSeconds: number;
  /** Why, in words: one line per part that scored. */
  reasons: string[];
}

export function computeUrgency(input: UrgencyInput, now: Date = new Date()): Urgency {
  const priorityPoints = PRIORITY_POINTS[input.priority];
  const waitingSeconds = input.awaitingSince ? Math.max(0, (now.getTime() - input.awaitingSince.getTime()) / 1000) : 0;
  const waitPoints = Math.min(WAIT_POINTS_MAX, Math.floor((waitingSeconds / 60) * WAIT_POINTS_PER_MINUTE));
  const keywords = [...new Set(input.keywords)].sort();
  const keywordPoints = Math.min(KEYWORD_POINTS_MAX, keywords.length * KEYWORD_POINTS);
  const score = priorityPoints + waitPoints + keywordPoints;
  const reasons: string[] = [];
  if (priorityPoints) reasons.push(`priority ${input.priority} (+${priorityPoints})`);
  if (waitPoints) reasons.push(`waiting ${Math.floor(waitingSeconds / 60)} min for an answer (+${waitPoints})`);
  if (keywordPoints) reasons.push(`mentions ${keywords.join(', ')} (+${keywordPoints})`);
  return {
    score,
    urgent: score >= URGENT_AT,
    priority: input.priority,
    priorityPoints,
    waitPoints,
    keywordPoints,
    keywords,
    waitingSince: input.awaitingSince,
    waitingSeconds: Math.floor(waitingSeconds),
    reasons,
  };
}

/** Queue order: most urgent first, then longest waiting, then first come. */
export function compareUrgency(
  a: { urgency: Urgency; queueNumber: number },
  b: { urgency: Urgency; queueNumber: number },
): number {
  if (a.urgency.score !== b.urgency.score) return b.urgency.score - a.urgency.score;
  const aw = a.urgency.waitingSince?.getTime() ?? Infinity;
  const bw = b.urgency.waitingSince?.getTime() ?? Infinity;
  if (aw !== bw) return aw - bw;
  return a.queueNumber - b.queueNumber;
}
