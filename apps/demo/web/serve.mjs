// A small static server for the built demo: 127.0.0.1 only, with the cross-origin isolation headers that
// multi-threaded wasm needs. `node web/serve.mjs [--port 5180] [--bundle DIR]` serves web/dist (and a bundle
// folder, e.g. an imported MaskGIT, at /local-bundle/); tests import startServer.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST } from './assets.mjs';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/**
 * Serves `root` (default: the built demo) and `mounts` ({ '/prefix/': '/abs/dir/' }) on 127.0.0.1. With `log`
 * (an array), each request's method and path is pushed onto it (tests check what a reload fetched again).
 * Resolves to { url, close }.
 */
export function startServer({ root = DIST, port = 0, mounts = {}, log = undefined } = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    log?.push(`${req.method} ${path}`);
    let base = root;
    let rel = path;
    for (const [prefix, dir] of Object.entries(mounts)) {
      if (path.startsWith(prefix)) {
        base = dir;
        rel = path.slice(prefix.length - 1);
        break;
      }
    }
    let file = normalize(join(base, rel));
    if (!file.startsWith(normalize(base).replace(/[\\/]$/, '') + sep) && file !== normalize(base)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-cache',
    };
    if (!existsSync(file)) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/`, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const flag = (name) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? process.argv[at + 1] : undefined;
  };
  const port = Number(flag('--port') ?? process.env.PORT ?? 5180);
  const bundle = flag('--bundle');
  if (bundle !== undefined && !existsSync(join(bundle, 'manifest.json'))) {
    console.error(`--bundle ${bundle}: no manifest.json there (give a bundle folder, e.g. one import-maskgit wrote)`);
    process.exit(2);
  }
  let server;
  try {
    server = await startServer({ port, mounts: bundle === undefined ? {} : { '/local-bundle/': bundle } });
  } catch (err) {
    // One line, not Node's stack: the usual cause is a second demo (or another server) on the same port.
    const why =
      err.code === 'EADDRINUSE'
        ? `port ${port} is in use (another demo or server?); stop it or pick another port: --port N or PORT=N`
        : err.code === 'EACCES'
          ? `no permission to listen on port ${port}; pick one above 1023: --port N`
          : `cannot listen on 127.0.0.1:${port}: ${err.message}`;
    console.error(`migm demo: ${why}`);
    process.exit(1);
  }
  if (!existsSync(join(DIST, 'index.html'))) {
    console.error('The demo is not built: run `pnpm --filter @migm/demo run web:build` first.');
    await server.close();
    process.exit(1);
  }
  const { url } = server;
  console.log(`migm demo: ${url}${bundle === undefined ? '' : `?bundle=/local-bundle/  (serving ${bundle})`}  (Ctrl+C to stop)`);
}
