import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.mysql.config.ts` after changing the schema; the
// generated SQL is committed and applied by MysqlCatalog.open. No database is needed to generate.
export default defineConfig({
  dialect: 'mysql',
  schema: './server/stores/mysql/schema.ts',
  out: './server/stores/mysql/migrations',
  strict: true,
  verbose: true
});
