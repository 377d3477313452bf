/** Opens a collection the way the server does and reports how long it took and the memory used. */
import { join } from 'node:path';
import { SqliteCatalog } from '../server/stores/sqlite/sqlite-catalog';
import { UsearchVectorIndex } from '../server/stores/usearch-index';

const dir = process.argv[2]!;
const started = performance.now();
let rebuilt = false;
const catalog = await SqliteCatalog.open(join(dir, 'catalog.db'));
const index = await UsearchVectorIndex.open({
  path: join(dir, 'vectors.usearch'),
  dimension: 2048,
  source: catalog,
  onRebuild: () => (rebuilt = true)
});
const openMs = performance.now() - started;
if (rebuilt) throw new Error('the snapshot was rebuilt instead of loaded');
process.stdout.write(
  JSON.stringify({
    openMs,
    rssMb: Math.round(process.memoryUsage().rss / 1048576),
    count: await index.count()
  })
);
