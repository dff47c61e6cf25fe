import { defineConfig, type Options } from 'tsup';

/** The build every published package shares: ESM + CJS + .d.ts, tree-shakable, source maps. */
export function packageBuild(entry: Record<string, string>, overrides: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    treeshake: true,
    ...overrides,
  });
}
