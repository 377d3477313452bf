import { testModel } from './helpers/models';

/** Builds the generated models once, before the test files run in parallel workers. */
export default async function setup(): Promise<void> {
  await testModel('tiny');
  await testModel('synthetic-resnet50');
}
