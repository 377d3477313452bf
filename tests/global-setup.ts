import { testModel } from './helpers/models';
import { ensureWebBuild } from './helpers/web-build';

/**
 * Before the test files run in parallel workers: builds the generated models once, and the web
 * app's production build when its sources changed (the browser tests load it).
 */
export default async function setup(): Promise<void> {
  await testModel('tiny');
  await testModel('synthetic-resnet50');
  await ensureWebBuild();
}
