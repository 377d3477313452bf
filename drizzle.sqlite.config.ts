import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.sqlite.config.ts` after changing the schema; the
// generated SQL is committed and applied at start-up.
export default defineConfig({
  dialect: 'sqlite',
  schema: './server/stores/sqlite/schema.ts',
  out: './server/stores/sqlite/migrations',
  strict: true,
  verbose: true
});
