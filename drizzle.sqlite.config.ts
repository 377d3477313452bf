import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.sqlite.config.ts` after changing the schema; the
// generated SQL is committed and applied when the catalog opens (SqliteCatalogStore.open). A new
// NOT NULL column on a table with rows needs a DEFAULT added by hand (see 0001_collections.sql).
export default defineConfig({
  dialect: 'sqlite',
  schema: './server/stores/sqlite/schema.ts',
  out: './server/stores/sqlite/migrations',
  strict: true,
  verbose: true
});
