/** Trusted documents (TRUSTED_DOCUMENTS_FILE): filled in below. */
import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Config } from '../config/env.js';

export function useTrustedDocuments(_config: Config, _logger: Logger): Plugin[] {
  return [];
}
