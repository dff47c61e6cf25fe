import { packageBuild } from '../../tooling/tsup.base.js';

// shims: import.meta.url in the CommonJS build (cuda-provider.ts resolves onnxruntime-node's folder with it).
export default packageBuild({ index: 'src/index.ts' }, { platform: 'node', shims: true });
