import { packageBuild } from '../../tooling/tsup.base.js';

export default packageBuild({ index: 'src/index.ts', node: 'src/node.ts' }, { platform: 'neutral', external: ['node:fs/promises', 'node:path'] });
