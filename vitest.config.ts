import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS and .mjs copies. Node (and so every dependency) loads the
    // CommonJS one; Vite would pick the .mjs for our own files, and two graphql instances cannot
    // share a schema. Point everything at the one Node loads.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts its own server on its own fresh database (see test/helpers/app.ts).
    pool: 'forks',
    maxWorkers: 2,
    // Generous: a test's limit is a hang detector, not a speed check (speed is measured by
    // `npm run bench`). On a loaded 2-core machine an embedded test restarting apps on PGlite
    // took over 30 s.
    testTimeout: 90_000,
    hookTimeout: 120_000,
  },
});
