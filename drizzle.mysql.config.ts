import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.mysql.config.ts` after changing the schema; the
// generated SQL is committed and applied by MysqlCatalogStore.open / MysqlCatalog.open (under a
// named lock). No database is needed to generate. drizzle-kit cannot express a prefix index and
// orders key changes before new columns: check the SQL and hand-edit it (see 0001, 0003).
export default defineConfig({
  dialect: 'mysql',
  schema: './server/stores/mysql/schema.ts',
  out: './server/stores/mysql/migrations',
  strict: true,
  verbose: true
});
