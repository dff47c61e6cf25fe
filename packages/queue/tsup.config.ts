import { packageBuild } from '../../tooling/tsup.base.js';

// Shared code goes into chunks, but only `worker` (and `index`) import @migm/backend-node, which loads onnxruntime;
// test/entries.test.ts checks that `client` and `http` never do.
export default packageBuild(
  { index: 'src/index.ts', client: 'src/client-entry.ts', http: 'src/http-entry.ts', worker: 'src/worker-entry.ts' },
  { platform: 'node' },
);
