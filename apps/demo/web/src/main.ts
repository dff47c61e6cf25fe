// The demo page: controls, worker messages, progress, preview and results.
import { clearBundleCache, listBundleCache } from '@migm/backend-web';
import { PREDICTOR_REGISTRY, predictorDefinition, type Manifest, type Predictor } from '@migm/core';
import type { FromWorker, RunResult, RunSettings, SelectionInfo, ToWorker } from './protocol.js';
import { methodName } from './methods.js';
import { drawImages } from './render.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const el = {
  form: $<HTMLFormElement>('controls'),
  cls: $<HTMLSelectElement>('class'),
  classRow: $<HTMLLabelElement>('class-row'),
  prompt: $<HTMLInputElement>('prompt'),
  promptRow: $<HTMLLabelElement>('prompt-row'),
  examples: $<HTMLDataListElement>('example-prompts'),
  negative: $<HTMLInputElement>('negative-prompt'),
  negativeRow: $<HTMLLabelElement>('negative-row'),
  method: $<HTMLSelectElement>('method'),
  steps: $<HTMLInputElement>('steps'),
  budget: $<HTMLInputElement>('budget'),
  seed: $<HTMLInputElement>('seed'),
  batch: $<HTMLInputElement>('batch'),
  compare: $<HTMLInputElement>('compare'),
  preview: $<HTMLInputElement>('preview'),
  slow: $<HTMLInputElement>('slow'),
  formError: $<HTMLParagraphElement>('form-error'),
  generate: $<HTMLButtonElement>('generate'),
  cancel: $<HTMLButtonElement>('cancel'),
  device: $<HTMLSelectElement>('device'),
  bundleUrl: $<HTMLInputElement>('bundle-url'),
  load: $<HTMLButtonElement>('load'),
  clearCache: $<HTMLButtonElement>('clear-cache'),
  cacheInfo: $<HTMLSpanElement>('cache-info'),
  runtime: $<HTMLParagraphElement>('runtime'),
  error: $<HTMLDivElement>('error'),
  status: $<HTMLDivElement>('status'),
  progress: $<HTMLProgressElement>('progress'),
  previewBox: $<HTMLDivElement>('preview-box'),
  previewLabel: $<HTMLSpanElement>('preview-label'),
  previewCanvas: $<HTMLCanvasElement>('preview-canvas'),
  results: $<HTMLDivElement>('results'),
  placeholder: $<HTMLDivElement>('placeholder'),
};

type State = 'loading' | 'idle' | 'generating' | 'no-model';
const MAX_BATCH = 16;
// The method list comes from core's predictor registry: a new method appears here without an edit.
for (const p of PREDICTOR_REGISTRY) el.method.add(new Option(p.label, p.name, p.name === 'shortcut', p.name === 'shortcut'));

/** What the end-to-end test and curious users can read: `window.migmDemo`. */
const demo = {
  state: 'loading' as State,
  manifest: undefined as Manifest | undefined,
  selection: undefined as SelectionInfo | undefined,
  last: [] as RunResult[],
  steps: 0,
  /** Runs finished (done, cancelled or failed). */
  finished: 0,
  /** Byte progress of the last bundle load: events seen, bytes loaded and bytes the manifest lists, files from the cache. */
  download: { events: 0, totalLoaded: 0, totalBytes: 0, cachedFiles: [] as string[] },
  /** Cache problems of the last load ("file (write): message"): the files came from the network instead. */
  cacheErrors: [] as string[],
  /** The browser's bundle cache, as last listed (after each load and purge). */
  cache: { files: 0, bytes: 0 },
  /** onnxruntime sessions started by the last load (0 when a bundle was refused before any). */
  sessions: 0,
  /** Milliseconds the last successful load took (fetch or cache read, verification, sessions, warm-up). */
  loadMs: 0,
  /** Milliseconds from the last load's start until every byte was verified, and until the last session was ready. */
  phases: { bytesMs: 0, sessionsMs: 0 },
};
let loadStart = 0;
(window as unknown as { migmDemo: typeof demo }).migmDemo = demo;

const params = new URLSearchParams(location.search);
el.bundleUrl.value = params.get('bundle') ?? 'bundle/';
const initialDevice = params.get('device');
if (initialDevice === 'wasm' || initialDevice === 'webgpu' || initialDevice === 'auto') el.device.value = initialDevice;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker) => worker.postMessage(m);
let runId = 0;
let activeRun = 0;

function setState(state: State): void {
  if (demo.state === 'generating' && state !== 'generating') demo.finished++;
  demo.state = state;
  document.body.dataset.state = state;
  el.generate.disabled = state !== 'idle';
  el.cancel.disabled = state !== 'generating';
  el.load.disabled = state === 'loading' || state === 'generating';
  el.device.disabled = state === 'loading' || state === 'generating';
}

function showError(message: string): void {
  el.error.hidden = false;
  el.error.querySelector('span')!.textContent = message;
}
el.error.querySelector('button')!.addEventListener('click', () => (el.error.hidden = true));

function load(): void {
  el.error.hidden = true;
  setState('loading');
  el.status.textContent = 'Loading the model…';
  el.progress.value = 0;
  demo.download = { events: 0, totalLoaded: 0, totalBytes: 0, cachedFiles: [] };
  demo.cacheErrors = [];
  demo.sessions = 0;
  demo.phases = { bytesMs: 0, sessionsMs: 0 };
  loadStart = performance.now();
  const bundleUrl = new URL(el.bundleUrl.value.trim() || 'bundle/', document.baseURI).href;
  send({
    type: 'load',
    bundleUrl,
    wasmPaths: new URL('ort/', document.baseURI).href,
    device: el.device.value as 'auto' | 'webgpu' | 'wasm',
    cache: params.get('cache') === 'cache-storage' ? 'cache-storage' : 'default',
  });
}

function onLoaded(manifest: Manifest, selection: SelectionInfo, loadMs: number): void {
  const first = demo.manifest === undefined;
  const keepClass = el.cls.value;
  demo.manifest = manifest;
  demo.selection = selection;
  demo.loadMs = loadMs;
  const c = manifest.condition;
  el.cls.replaceChildren(...(c.type === 'class' ? c.classNames.map((name, i) => new Option(name, String(i))) : []));
  if (c.type === 'class' && keepClass && Number(keepClass) < c.numClasses) el.cls.value = keepClass;
  // A text-conditioned bundle gets a prompt box (with the manifest's example prompts) instead of the class list.
  const text = c.type === 'text';
  el.classRow.hidden = text;
  el.promptRow.hidden = !text;
  el.negativeRow.hidden = !text;
  el.examples.replaceChildren(...(text ? (c.examplePrompts ?? []).map((p) => new Option(p)) : []));
  if (text) el.negative.placeholder = c.negativePrompt === '' ? '(none)' : c.negativePrompt;
  if (text && el.prompt.value === '') el.prompt.value = params.get('prompt') ?? c.examplePrompts?.[0] ?? '';
  const L = manifest.tokens.count;
  el.steps.max = String(L);
  el.budget.max = String(L);
  if (first || Number(el.steps.value) > L) {
    el.steps.value = String(manifest.sampling.steps);
    el.budget.value = String(manifest.sampling.budget ?? Math.max(1, Math.ceil(manifest.sampling.steps / 3)));
  }
  const hasShortcut = manifest.graphs.shortcut !== undefined;
  for (const p of PREDICTOR_REGISTRY.filter((d) => d.needsVelocity)) {
    (el.method.querySelector(`option[value="${p.name}"]`) as HTMLOptionElement).disabled = !hasShortcut;
  }
  if (!hasShortcut && predictorDefinition(el.method.value)?.needsVelocity) el.method.value = 'vanilla';
  const fallbacks = selection.fallbacks.map((f) => `${f.device} unavailable: ${f.message}`).join(' ');
  el.runtime.textContent =
    `${manifest.name} ${manifest.version}: ${L} tokens (${manifest.tokens.grid.join('×')}), ${manifest.tokens.codebookSize} codes, ` +
    `${manifest.image.width}×${manifest.image.height} images. Running on ${selection.device}` +
    (selection.device === 'wasm'
      ? ` (${selection.numThreads} thread${selection.numThreads > 1 ? 's' : ''})`
      : ` (${selection.adapter ?? 'GPU'}${selection.deviceFeatures ? '; features stay on the GPU' : ''})`) +
    `, loaded in ${Math.round(loadMs)} ms.` +
    (fallbacks ? ` ${fallbacks}` : '');
  el.status.textContent = `Ready on ${selection.device}. ${manifest.condition.type === 'text' ? 'Type a prompt' : 'Pick a class'} and press Generate.`;
  el.progress.value = 0;
  setState('idle');
  validate();
  void showCache();
}

/** Lists the bundle cache next to its purge button (files of every bundle this page has loaded). */
async function showCache(): Promise<void> {
  try {
    const files = await listBundleCache();
    demo.cache = { files: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0) };
    el.cacheInfo.textContent = files.length ? `Cache: ${files.length} files, ${kb(demo.cache.bytes)}.` : 'Cache: empty.';
  } catch {
    el.cacheInfo.textContent = 'Cache: not available in this browser.';
  }
  el.cacheInfo.dataset.files = String(demo.cache.files);
}

/** Reads the form; returns settings or shows what is wrong next to the controls. */
function validate(): RunSettings | undefined {
  const m = demo.manifest;
  if (!m) return undefined;
  const L = m.tokens.count;
  const predictor = el.method.value as Predictor;
  const problems: string[] = [];
  const int = (input: HTMLInputElement, name: string, min: number, max: number): number => {
    const raw = input.value.trim();
    const v = Number(raw);
    const ok = raw !== '' && Number.isInteger(v) && v >= min && v <= max;
    input.setAttribute('aria-invalid', String(!ok));
    if (!ok) problems.push(`${name} must be a whole number from ${min} to ${max}${raw === '' ? '' : ` (got ${raw})`}.`);
    return v;
  };
  const steps = int(el.steps, 'Steps N', 1, L);
  const budget =
    predictor === 'vanilla'
      ? Math.min(Number(el.budget.value) || 1, Math.max(1, steps))
      : int(el.budget, 'Full steps B', 1, Number.isInteger(steps) && steps >= 1 && steps <= L ? steps : L);
  if (predictor === 'vanilla') el.budget.setAttribute('aria-invalid', 'false');
  const seed = int(el.seed, 'Seed', 0, Number.MAX_SAFE_INTEGER);
  const batch = int(el.batch, 'Images', 1, MAX_BATCH);
  el.budget.disabled = predictor === 'vanilla' && !el.compare.checked;
  el.formError.hidden = problems.length === 0;
  el.formError.textContent = problems.join(' ');
  if (demo.state === 'idle') el.generate.disabled = problems.length > 0;
  if (problems.length > 0) return undefined;
  return {
    classId: Number(el.cls.value),
    prompt: demo.manifest?.condition.type === 'text' ? el.prompt.value : null,
    negativePrompt: demo.manifest?.condition.type === 'text' && el.negative.value !== '' ? el.negative.value : null,
    steps,
    budget,
    predictor,
    seed,
    batch,
    compare: el.compare.checked,
    preview: el.preview.checked,
    slowMs: el.slow.checked ? 250 : 0,
  };
}
el.form.addEventListener('input', () => void validate());
el.form.addEventListener('change', (e) => {
  if (e.target === el.device) load();
});

el.form.addEventListener('submit', (e) => {
  e.preventDefault();
  const settings = validate();
  if (!settings || demo.state !== 'idle') return;
  el.error.hidden = true;
  activeRun = ++runId;
  demo.steps = 0;
  demo.last = [];
  el.results.replaceChildren();
  el.placeholder.hidden = true;
  el.previewBox.hidden = !settings.preview;
  setState('generating');
  el.status.textContent = 'Starting…';
  el.progress.value = 0;
  send({ type: 'generate', id: activeRun, settings });
  pending = settings;
});
let pending: RunSettings | undefined;

el.cancel.addEventListener('click', () => {
  if (demo.state !== 'generating') return;
  send({ type: 'cancel', id: activeRun });
  el.status.textContent = 'Cancelling…';
});
el.load.addEventListener('click', load);
el.clearCache.addEventListener('click', async () => {
  const done = await clearBundleCache().catch(() => false);
  el.runtime.dataset.cache = String(done);
  el.status.textContent = done ? 'Cached model files removed; the next load downloads them again.' : 'This browser has no bundle cache to clear.';
  await showCache();
  el.clearCache.dataset.purged = String((Number(el.clearCache.dataset.purged) || 0) + 1);
});

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'download':
      demo.download = {
        events: demo.download.events + 1,
        totalLoaded: m.totalLoaded,
        totalBytes: m.totalBytes,
        cachedFiles: m.event === 'file-done' && m.cached ? [...demo.download.cachedFiles, m.file] : demo.download.cachedFiles,
      };
      if (m.event === 'file-done' && m.totalLoaded === m.totalBytes) demo.phases.bytesMs = performance.now() - loadStart;
      el.status.textContent = `Loading ${m.file}${m.cached ? ' (from cache)' : ''}: ${kb(m.totalLoaded)} of ${kb(m.totalBytes)}`;
      el.progress.value = m.totalBytes ? m.totalLoaded / m.totalBytes : 0;
      break;
    case 'cache-error':
      // Not an error of the load: the file came from the network. Say so, so a full disk is no mystery.
      demo.cacheErrors = [...demo.cacheErrors, `${m.file} (${m.operation}): ${m.message}`];
      el.cacheInfo.textContent = `Could not ${m.operation === 'write' ? 'cache' : 'read the cached'} ${m.file} (${m.message}); it came from the network.`;
      break;
    case 'session':
      if (!m.done) demo.sessions++;
      else if (m.index + 1 === m.count) demo.phases.sessionsMs = performance.now() - loadStart;
      el.status.textContent = `${m.done ? 'Created' : 'Creating'} the ${m.role} session (${m.index + 1} of ${m.count})…`;
      break;
    case 'fallback':
      el.status.textContent = `${m.device} did not work here; trying the next device…`;
      break;
    case 'device-lost':
      showError(`The GPU device was lost (${m.message}).${el.device.value === 'auto' ? ' Switching to wasm.' : ' Choose wasm or auto and press Load.'}`);
      if (el.device.value === 'auto') setState('loading');
      break;
    case 'loaded':
      onLoaded(m.manifest, m.selection, m.loadMs);
      break;
    case 'step': {
      if (m.id !== activeRun || !demo.manifest) return;
      demo.steps++;
      const run = pending?.compare ? ` (${m.run})` : '';
      el.status.textContent = `Step ${m.step + 1} of ${m.steps}${run}: ${m.kind === 'full' ? 'base model' : 'predicted'}, ${m.masked} tokens still masked · ${Math.round(m.elapsedMs)} ms`;
      el.progress.value = (m.step + 1) / m.steps;
      if (m.preview) {
        el.previewLabel.textContent = `${m.run}, step ${m.step + 1}/${m.steps}`;
        drawImages(el.previewCanvas, m.preview.images, {
          range: demo.manifest.image.range ?? [0, 1],
          grid: demo.manifest.tokens.grid,
          masked: m.preview.masked,
        });
      }
      break;
    }
    case 'run-done':
      if (m.id !== activeRun) return;
      demo.last = [...demo.last, m.result];
      renderResults(demo.last);
      break;
    case 'done':
      if (m.id !== activeRun) return;
      el.progress.value = 1;
      el.previewBox.hidden = true; // the results show the final grids
      el.status.textContent = summary(m.results) + (m.results.some((r) => r.truncated) ? ' The prompt was longer than 77 tokens and was truncated.' : '');
      setState('idle');
      validate();
      break;
    case 'cancelled':
      if (m.id !== activeRun) return;
      el.status.textContent = 'Cancelled. Change the settings or press Generate again.';
      el.progress.value = 0;
      setState('idle');
      validate();
      break;
    case 'error':
      if (m.stage === 'load') {
        showError(`Could not load the model bundle: ${m.message}${m.kept ? '\nThe model loaded before is still in use.' : ''}`);
        el.status.textContent = m.kept ? 'Ready (previous model).' : 'No model loaded. Check the bundle URL or the device and press Load.';
        setState(m.kept ? 'idle' : 'no-model');
        if (m.kept) validate();
      } else if (m.id === activeRun) {
        showError(`Generation failed (${m.code}): ${m.message}`);
        el.status.textContent = 'Generation failed; the page is ready again.';
        setState('idle');
        validate();
      }
      break;
  }
};
worker.onerror = (e) => {
  showError(`The generation worker failed: ${e.message || 'unknown error'}`);
  setState('no-model');
};

function renderResults(results: readonly RunResult[]): void {
  const m = demo.manifest!;
  const cards = results.map((r) => {
    const card = document.createElement('div');
    card.className = 'panel result';
    card.dataset.predictor = r.predictor;
    const h = document.createElement('h2');
    h.textContent = `${r.label} `;
    const sub = document.createElement('span');
    sub.className = 'muted';
    sub.textContent = r.predictor === 'vanilla' ? `${r.steps} full steps` : `${r.steps} steps, ${r.fullSteps} full`;
    h.append(sub);
    const canvas = document.createElement('canvas');
    drawImages(canvas, r.images, { range: m.image.range ?? [0, 1], grid: m.tokens.grid });
    const time = document.createElement('p');
    time.className = 'time';
    time.textContent = `${fmt(r.ms)} ms · ${fmt(r.ms / r.images.batch)} ms per image · ${r.calls.forward} base-model calls`;
    const download = document.createElement('button');
    download.type = 'button';
    download.className = 'download';
    download.textContent = 'Download PNG';
    download.addEventListener('click', () => downloadCanvas(canvas, `migm-${r.predictor}-${r.steps}-steps-${r.fullSteps}-full.png`));
    card.append(h, canvas, time, download);
    return card;
  });
  const nodes: HTMLElement[] = [...cards];
  const vanilla = results.find((r) => r.predictor === 'vanilla');
  const other = results.find((r) => r.predictor !== 'vanilla');
  if (results.length === 2 && vanilla && other) {
    const s = document.createElement('p');
    s.className = 'speedup';
    s.textContent = `${other.label} is ${(vanilla.ms / other.ms).toFixed(2)}× as fast as vanilla `;
    const note = document.createElement('span');
    note.textContent = `(${fmt(vanilla.ms)} ms vs ${fmt(other.ms)} ms for the same seed; ${other.fullSteps} of ${other.steps} steps run the base model)`;
    s.append(note);
    nodes.unshift(s);
  }
  el.results.replaceChildren(...nodes);
}

/** Saves a result grid as a PNG file through the browser's download. */
function downloadCanvas(canvas: HTMLCanvasElement, name: string): void {
  canvas.toBlob((blob) => {
    if (!blob) return showError('Could not encode the PNG.');
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000); // the browser has read it by then
  }, 'image/png');
}

function summary(results: readonly RunResult[]): string {
  const r = results[results.length - 1]!;
  const images = `${r.images.batch} image${r.images.batch > 1 ? 's' : ''}`;
  if (results.length === 2) return `Done: ${images} with vanilla and ${methodName(r.predictor).toLowerCase()}.`;
  return `Done: ${images} in ${fmt(r.ms)} ms (${fmt(r.ms / r.images.batch)} ms per image).`;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const kb = (b: number) => (b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${Math.ceil(b / 1e3)} kB`);

setState('loading');
load();
