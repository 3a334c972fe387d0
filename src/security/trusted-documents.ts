/**
 * Trusted documents (TRUSTED_DOCUMENTS_FILE): a production frontend's operations, known in
 * advance, are the only ones HTTP and graphql-ws clients may run. A client sends the document's
 * SHA-256 as `extensions.persistedQuery.sha256Hash` (Apollo's and urql's persisted-query
 * format, as @graphql-yoga/plugin-persisted-operations reads it over HTTP) and may omit the
 * text; over graphql-ws, the full text of a trusted document is accepted too. The legacy shim's
 * own operations run through its executor and are always allowed.
 *
 * The manifest is JSON: { "<sha256 hex>": "<document>", … } (the format GraphQL Code
 * Generator's persisted-documents preset writes), or a list of documents.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';
import { refuse } from './refusal.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class TrustedDocuments {
  private readonly byHash = new Map<string, string>();

  constructor(file: string) {
    const manifest = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    const documents = Array.isArray(manifest) ? manifest : Object.values(manifest as Record<string, unknown>);
    for (const document of documents) {
      if (typeof document !== 'string') throw new Error(`${file}: every trusted document must be a string`);
      this.byHash.set(sha256(document), document);
    }
  }

  /** The hash of a document sent in full, when it is a trusted one. */
  hashOf(query: string): string | null {
    const hash = sha256(query);
    return this.byHash.has(hash) ? hash : null;
  }

  get size(): number {
    return this.byHash.size;
  }

  byId(hash: string): string | null {
    return this.byHash.get(hash.toLowerCase()) ?? null;
  }

  /** The document to run for a graphql-ws subscribe payload, or null when it is not trusted. */
  resolve(payload: { query?: string | null; extensions?: Record<string, unknown> | null }): string | null {
    const hash = (payload.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
    if (typeof hash === 'string') return this.byId(hash);
    return payload.query && this.byHash.has(sha256(payload.query)) ? payload.query : null;
  }
}

export function loadTrustedDocuments(config: Config, logger: Logger): TrustedDocuments | null {
  if (!config.TRUSTED_DOCUMENTS_FILE) return null;
  const trusted = new TrustedDocuments(config.TRUSTED_DOCUMENTS_FILE);
  logger.info({ documents: trusted.size }, 'only trusted documents may run');
  return trusted;
}

export function useTrustedDocuments(trusted: TrustedDocuments | null, logger: Logger): Plugin[] {
  if (!trusted) return [];
  const refused = (): GraphQLError => refuse(logger, { kind: 'trusted-documents' });
  return [
    {
      // A trusted document sent in full is as good as its hash: passed on as the hash, so the
      // plugin below (which refuses every document sent as text) serves it.
      onParams: ({ params, setParams }) => {
        const hash = params.query ? trusted.hashOf(params.query) : null;
        if (hash) setParams({ ...params, query: undefined, extensions: { ...params.extensions, persistedQuery: { version: 1, sha256Hash: hash } } });
      },
    },
    usePersistedOperations({
      getPersistedOperation: (key) => trusted.byId(key),
      allowArbitraryOperations: false,
      customErrors: { notFound: () => refused(), persistedQueryOnly: () => refused(), keyNotFound: () => refused() },
    }) as Plugin,
  ];
}
