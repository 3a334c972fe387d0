/**
 * Files on the local disk under one root directory, spread over 256 subdirectories by the key's
 * first two hex digits. A put writes `<key>.part` and renames it into place when complete, so a
 * reader never sees a partial file and a failed put leaves nothing.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertKey, isKey, type FileStorage, type StoredObject } from './storage.js';

const PART = '.part';

export class LocalFileStorage implements FileStorage {
  readonly kind = 'local';
  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    assertKey(key);
    return path.join(this.root, key.slice(0, 2), key);
  }

  async put(key: string, body: Readable): Promise<{ size: number }> {
    const target = this.pathOf(key);
    const part = `${target}${PART}`;
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await pipeline(body, createWriteStream(part, { flags: 'wx', mode: 0o600 }));
      await rename(part, target);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
    return { size: (await stat(target)).size };
  }

  async get(key: string): Promise<{ body: Readable; size: number } | null> {
    const file = this.pathOf(key);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return { body: createReadStream(file), size };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(): AsyncIterable<StoredObject> {
    let dirs: string[];
    try {
      dirs = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const dir of dirs) {
      if (!/^[0-9a-f]{2}$/.test(dir)) continue;
      for (const name of await readdir(path.join(this.root, dir))) {
        if (!isKey(name)) continue;
        const info = await stat(path.join(this.root, dir, name)).catch(() => null);
        if (info?.isFile()) yield { key: name, size: info.size, modifiedAt: info.mtime };
      }
    }
  }
}
