import { packageBuild } from '../../tooling/tsup.base.js';

export default packageBuild({ index: 'src/index.ts' }, { platform: 'neutral' });
