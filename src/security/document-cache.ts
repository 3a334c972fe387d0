/**
 * Yoga's parse caches, bounded by what they hold rather than by how many entries.
 *
 * Yoga remembers each document text it parsed (the parsed document, or the error parsing threw)
 * in LRU caches of 1,024 entries, keyed by the whole text. A document may be as long as a request
 * body: before GRAPHQL_MAX_BODY_BYTES, distinct 13 MB documents, each `{ __typename }` behind a
 * comment, were each kept with their text: 262 of them (an anonymous client, 90 s) exhausted V8's
 * 4 GB heap and ended the process. At 1 MiB a document, 1,024 of them would still be a gigabyte.
 * Here the document cache counts the bytes an entry holds (its text, which the document's
 * locations keep too, and its tokens and nodes) and keeps at most {@link DOCUMENT_CACHE_BYTES}; a
 * document larger than {@link DOCUMENT_ENTRY_BYTES} is parsed again each time it comes, as any
 * document is the first time (its tokens are bounded by GRAPHQL_MAX_TOKENS: the text beyond them
 * is comments or string literals, which parsing only scans). Parse errors are cached for short
 * texts only: a refused flood is refused again by the token limit after GRAPHQL_MAX_TOKENS
 * tokens, without keeping the flood.
 *
 * A refusal answered from a cache is still a refusal: it is counted and logged again
 * ({@link refuse}), so a flood of one refused document shows on the metric like any other.
 */
import type { DocumentNode, GraphQLError, Token } from 'graphql';
import { LRUCache } from 'lru-cache';
import { refusalOf, refuse, type DefensesLogger } from './refusal.js';

/** What the document cache holds at most, in bytes (estimated: see {@link documentBytes}). */
export const DOCUMENT_CACHE_BYTES = 64 * 1024 * 1024;
/** The largest document the cache keeps (its text and parse, estimated). */
export const DOCUMENT_ENTRY_BYTES = 1024 * 1024;
/** The largest parse error kept: 2 bytes per character of its text, and 512. */
export const ERROR_ENTRY_BYTES = 16 * 1024;
/** Parse errors kept at most, in bytes counted so. */
const ERROR_CACHE_BYTES = 1024 * 1024;
/** Entries each cache keeps at most, whatever their size (Yoga's own number). */
const MAX_ENTRIES = 1024;

/**
 * The bytes a cached document holds: its text, plus per token the lexer's token (kept in the
 * document's locations) and its share of the syntax tree. Measured on Node 20 with graphql 16
 * (heap in use after a full collection, 200 documents kept): 290 to 490 bytes per token (600
 * aliases, 2,000 bare fields, 300 levels of nesting, a typical 73-token query); counted as 512.
 * A document parsed without locations is counted as if each character were a token.
 */
function documentBytes(document: DocumentNode, text: string): number {
  let tokens = 0;
  for (let token: Token | null | undefined = document.loc?.startToken; token && tokens <= text.length; token = token.next) tokens++;
  if (!document.loc) tokens = text.length;
  return 2 * text.length + 512 * tokens;
}

/** The caches Yoga's parser uses (its `parserAndValidationCache` option), bounded in bytes. */
export interface DocumentCaches {
  documentCache: { get(text: string): DocumentNode | undefined; set(text: string, document: DocumentNode): void };
  errorCache: { get(text: string): unknown; set(text: string, error: unknown): void };
  /** What the document cache holds now: documents, and their estimated bytes. */
  usage(): { documents: number; bytes: number };
  /** Whether a text's document, or its parse error, is kept (without counting a refusal, as errorCache.get does). */
  holds(text: string): { document: boolean; error: boolean };
}

export function documentCaches(logger: DefensesLogger): DocumentCaches {
  const documents = new LRUCache<string, DocumentNode>({
    max: MAX_ENTRIES,
    maxSize: DOCUMENT_CACHE_BYTES,
    maxEntrySize: DOCUMENT_ENTRY_BYTES,
    sizeCalculation: (document, text) => documentBytes(document, text),
  });
  const errors = new LRUCache<string, object>({
    max: MAX_ENTRIES,
    maxSize: ERROR_CACHE_BYTES,
    maxEntrySize: ERROR_ENTRY_BYTES,
    sizeCalculation: (_error, text) => 2 * text.length + 512,
  });
  return {
    documentCache: {
      get: (text) => documents.get(text),
      // lru-cache skips an entry larger than maxEntrySize (and, with maxSize, one it cannot
      // size); such a document is simply parsed again next time.
      set: (text, document) => void documents.set(text, document),
    },
    errorCache: {
      get(text) {
        const error = errors.get(text);
        // The token limit refuses while parsing: a cached refusal is that refusal again.
        const refusal = error && refusalOf(error as GraphQLError);
        if (refusal) refuse(logger, refusal);
        return error;
      },
      set: (text, error) => void (typeof error === 'object' && error !== null && errors.set(text, error)),
    },
    usage: () => ({ documents: documents.size, bytes: documents.calculatedSize }),
    holds: (text) => ({ document: documents.has(text), error: errors.has(text) }),
  };
}
