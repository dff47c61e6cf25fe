import { defineConfig } from 'tsup';

export default defineConfig({ entry: { 'core-demo': 'src/core-demo.ts' }, format: ['esm'], platform: 'node', target: 'node20', clean: true, sourcemap: true });
