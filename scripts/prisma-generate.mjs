// Runs `prisma generate` without letting the Prisma CLI download its native schema engine, which
// these machines cannot reach: generate only needs PRISMA_SCHEMA_ENGINE_BINARY to name a file.
// Runs on every `npm install` / `npm ci` (postinstall), so a fresh clone gets its client.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const placeholder = fileURLToPath(import.meta.url);
const result = spawnSync('npx', ['--no-install', 'prisma', 'generate'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? placeholder,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  },
});
process.exit(result.status ?? 1);
