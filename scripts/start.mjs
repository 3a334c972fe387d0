// `npm start`: runs the compiled server (dist/), compiling first when any source is newer than
// the last build (`--build-only`: just that), so a user's two commands stay `npm install` and `npm start`. Production runs
// JavaScript: no TypeScript compiler in the serving process (less memory, faster start); `tsx`
// stays for `npm run dev`. The server is imported in this process, so signals reach it directly.
import { spawnSync } from 'node:child_process';
import v8 from 'node:v8';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = path.join(root, 'dist', '.tsbuildinfo');

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function builtAt() {
  try {
    return statSync(stamp).mtimeMs;
  } catch {
    return 0;
  }
}

const inputs = Math.max(
  newest(path.join(root, 'src')),
  statSync(path.join(root, 'tsconfig.json')).mtimeMs,
  statSync(path.join(root, 'tsconfig.build.json')).mtimeMs,
);
if (inputs > builtAt()) {
  console.error('Compiling src/ to dist/ (sources changed since the last build)…');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('The build failed (see above); fix the type errors, or run `npm run dev` to serve src/ with tsx.');
    process.exit(result.status ?? 1);
  }
}

// On PostgreSQL, WebAssembly (Prisma's query compiler) runs on V8's baseline compiler only
// (Liftoff): the optimizing tier (TurboFan) compiled the compiler's hot functions on background
// threads at start and left ~70 MB resident (its compile memory, kept by malloc's per-thread
// arenas: smaps showed 20-40 MB anonymous regions that are gone with this flag), for no CPU gain
// we could measure on Prisma queries (bench/memory.ts, README "Benchmarks"). Not on the embedded
// database: PGlite is PostgreSQL itself in WebAssembly, and without TurboFan it ran 10-25 % fewer
// sends a second (bench:delivery, 2026-12-07). Set before anything compiles WebAssembly, which
// happens when the server's modules load below; flags read at compile time take effect when set here.
if (process.env.DATABASE_URL) v8.setFlagsFromString('--liftoff-only');

// `--build-only`: what the benchmarks use to make sure dist/ is current before they fork it.
if (!process.argv.includes('--build-only')) await import(pathToFileURL(path.join(root, 'dist', 'main.js')).href);
