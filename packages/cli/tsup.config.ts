import { packageBuild } from '../../tooling/tsup.base.js';

export default packageBuild({ index: 'src/index.ts', main: 'src/main.ts' }, { platform: 'node' });
