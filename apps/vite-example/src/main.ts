// A page that generates with the default bundle, as an app would: the bundle and onnxruntime-web's runtime come
// from this app's own build (vite.config.ts), never from a CDN.
import { createWebBackend, type WebBackend } from '@migm/backend-web';
import { generate, tileImages } from '@migm/core';
// The four runtime files backend-web may load: the plain wasm build (device 'wasm') and the JSEP build (WebGPU).
// Importing them with ?url makes the build emit them (vite.config.ts keeps their names, in one folder).
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import ortMjs from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import ortJsepWasm from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm?url';
import ortJsepMjs from 'onnxruntime-web/ort-wasm-simd-threaded.jsep.mjs?url';

const folder = (url: string) => url.slice(0, url.lastIndexOf('/') + 1);
const wasmPaths = folder(ortWasm);
// onnxruntime-web takes one folder for all four; a build that scattered them would fail here, not at the first run.
if ([ortMjs, ortJsepWasm, ortJsepMjs].some((u) => folder(u) !== wasmPaths)) throw new Error('onnxruntime-web files were emitted to different folders');
const bundle = new URL('bundle/', document.baseURI).href; // emitted by migmBundle() in vite.config.ts
const device = (new URLSearchParams(location.search).get('device') ?? 'auto') as 'auto' | 'wasm' | 'webgpu';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLSpanElement>('status');
const button = $<HTMLButtonElement>('generate');
const select = $<HTMLSelectElement>('class');
const canvas = $<HTMLCanvasElement>('grid');

/** What the end-to-end test reads. */
const state = { ready: false, device: '', runs: 0, error: '' };
(globalThis as { migmExample?: typeof state }).migmExample = state;

let backend: WebBackend;
try {
  backend = await createWebBackend({ bundle, wasmPaths, device });
  const c = backend.manifest.condition;
  if (c.type === 'class') c.classNames.forEach((name, id) => select.add(new Option(name, String(id))));
  state.device = backend.device;
  state.ready = true;
  status.textContent = `ready on ${backend.device}`;
  button.disabled = false;
} catch (err) {
  state.error = (err as Error).message;
  status.textContent = `could not load the model: ${state.error}`;
}

button.addEventListener('click', async () => {
  button.disabled = true;
  status.textContent = 'generating…';
  try {
    const result = await generate(backend, { condition: Number(select.value), batch: 4, seed: state.runs + 1 });
    const grid = tileImages(await backend.decode(result.tokens, result.batch), { columns: 4, scale: 4 });
    canvas.width = grid.width;
    canvas.height = grid.height;
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(grid.data), grid.width, grid.height), 0, 0);
    state.runs++;
    status.textContent = `4 images in ${result.timings.totalMs.toFixed(0)} ms on ${backend.device}`;
  } catch (err) {
    state.error = (err as Error).message;
    status.textContent = state.error;
  } finally {
    button.disabled = false;
  }
});
