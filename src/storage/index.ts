/** Picks the file storage for the configuration: the local disk under DATA_DIR/files. */
import path from 'node:path';
import type { Config } from '../config/env.js';
import { LocalFileStorage } from './local.js';
import type { FileStorage } from './storage.js';

export function createStorage(config: Pick<Config, 'DATA_DIR'>): FileStorage {
  return new LocalFileStorage(path.resolve(config.DATA_DIR, 'files'));
}

export type { FileStorage, StoredObject } from './storage.js';
export { UrlSigner } from './signed-urls.js';
