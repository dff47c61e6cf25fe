import { packageBuild } from '../../tooling/tsup.base.js';

// splitting: the entries share one copy of each module in CJS too, so `instanceof MigmError` and the
// classes a backend gets from '@migm/core/backend' are the ones generate() checks.
export default packageBuild(
  { index: 'src/index.ts', backend: 'src/backend.ts', sampling: 'src/sampling.ts', testing: 'src/testing/index.ts' },
  { platform: 'neutral', splitting: true },
);
