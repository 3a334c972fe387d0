// Prisma CLI configuration. Only `prisma generate` uses the CLI here; migrations are written and
// applied by the project's own scripts through Prisma's WebAssembly schema engine (no download).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
});
