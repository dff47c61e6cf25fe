// A Vite plugin that ships a migm model bundle through the app's own build: `vite build` emits every file the
// bundle's manifest lists (and the manifest) under `bundle/` with their names unchanged, since the manifest names
// them, and `vite` (dev) serves the same files from the package. Nothing is copied by hand, and only the listed
// files are shipped. Directory URLs such as `new URL('./bundle/', import.meta.url)` do not survive a build (Vite
// rewrites only URLs of single files), which is why the files are emitted here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'vite';

export interface MigmBundleOptions {
  /** The bundle folder on disk (e.g. `bundleDir()` of @migm/bundle-fashion-mnist). */
  dir: string;
  /** Where it is served, relative to the app's base. Default 'bundle/'. */
  path?: string;
}

export function migmBundle({ dir, path = 'bundle/' }: MigmBundleOptions): Plugin {
  const files = (): string[] => {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    return ['manifest.json', ...manifest.files.map((f) => f.path)];
  };
  let base = '/';
  return {
    name: 'migm-bundle',
    configResolved(config) {
      base = config.base;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0]!;
        const prefix = `${base}${path}`;
        const name = url.startsWith(prefix) ? decodeURIComponent(url.slice(prefix.length)) : undefined;
        if (name === undefined || !files().includes(name)) return next();
        res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.end(readFileSync(join(dir, name)));
      });
    },
    generateBundle() {
      for (const name of files()) this.emitFile({ type: 'asset', fileName: `${path}${name}`, source: readFileSync(join(dir, name)) });
    },
  };
}
