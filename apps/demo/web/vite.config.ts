import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import { DIST, defaultBundleDir, ORT_DIST, ORT_FILES } from './assets.mjs';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Puts the model bundle under /bundle/ and onnxruntime-web's runtime under /ort/, in dev and in the build. */
function demoAssets(): Plugin {
  const bundleDir = defaultBundleDir();
  const bundleFiles = (): string[] => {
    const manifest = JSON.parse(readFileSync(join(bundleDir, 'manifest.json'), 'utf8')) as { files: { path: string }[] };
    return ['manifest.json', ...manifest.files.map((f) => f.path)];
  };
  return {
    name: 'migm-demo-assets',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0]!;
        const hit = path.startsWith('/bundle/') ? join(bundleDir, path.slice(8)) : path.startsWith('/ort/') ? join(ORT_DIST, path.slice(5)) : undefined;
        if (!hit || !existsSync(hit)) return next();
        res.setHeader('Content-Type', hit.endsWith('.wasm') ? 'application/wasm' : hit.endsWith('.mjs') ? 'text/javascript' : 'application/octet-stream');
        res.end(readFileSync(hit));
      });
    },
    writeBundle(options) {
      const out = options.dir ?? DIST;
      mkdirSync(join(out, 'bundle'), { recursive: true });
      for (const f of bundleFiles()) cpSync(join(bundleDir, f), join(out, 'bundle', f));
      mkdirSync(join(out, 'ort'), { recursive: true });
      for (const f of ORT_FILES) cpSync(join(ORT_DIST, f), join(out, 'ort', f));
    },
  };
}

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  logLevel: 'warn',
  plugins: [demoAssets()],
  worker: { format: 'es' },
  // onnxruntime-web's "extern wasm" build loads its runtime only from env.wasm.wasmPaths (our /ort/), instead of
  // a bundled glue file plus a second 28 MB copy of the wasm that Vite would emit.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  server: { host: '127.0.0.1', headers: isolation },
  preview: { host: '127.0.0.1', headers: isolation },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    outDir: DIST,
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rolldownOptions: { input: { index: join(root, 'index.html'), selftest: join(root, 'selftest.html') } },
  },
});
