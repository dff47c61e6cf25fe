// Where a command's results go: `--out -` sends the PNG to stdout (so the human lines move to stderr), and
// `--json` replaces the human lines with one JSON object on stdout, for scripts.
import { writeFile } from 'node:fs/promises';
import type { GenerateResult } from '@migm/core';
import type { OrtBackend } from '@migm/backend-node';
import { checkOutPath } from './common.js';
import { UsageError } from './errors.js';
import type { Method } from './methods.js';
import type { RunSpec } from './commands/generate.js';

/** `--json`: shared by the commands that print results. */
export const jsonFlag = { json: { type: 'boolean' } } as const;

/** "1 image", "2 images". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export interface Output {
  /** The PNG's destination: a path, or '-' for stdout. */
  readonly out: string;
  readonly json: boolean;
  /** Writes the PNG where --out says. */
  writePng(png: Uint8Array): Promise<void>;
  /** A human result line: stdout, or stderr when stdout carries the PNG; nothing with --json. */
  line(text: string): void;
  /** The --json object (one line on stdout). */
  result(value: object): void;
}

/**
 * Checks --out and --json together, before any model is loaded: `-` and `--json` both want stdout, and a PNG is
 * not written to a terminal (pipe or redirect it).
 */
export function output(values: { out?: string | undefined; json?: boolean | undefined }, defaultOut: string): Output {
  const out = values.out ?? defaultOut;
  const json = values.json === true;
  const toStdout = out === '-';
  if (toStdout && json) throw new UsageError('--out - and --json both write to stdout; give --out a file name');
  if (toStdout && process.stdout.isTTY)
    throw new UsageError('--out - writes a PNG to stdout, which is a terminal here; redirect it (--out - > grid.png) or pipe it');
  const path = toStdout ? out : checkOutPath('out', out);
  return {
    out,
    json,
    async writePng(png) {
      if (!toStdout) return writeFile(path, png);
      await new Promise<void>((resolve, reject) => process.stdout.write(png, (err) => (err ? reject(err) : resolve())));
    },
    line(text) {
      if (json) return;
      if (toStdout) console.error(text);
      else console.log(text);
    },
    result(value) {
      if (json) console.log(JSON.stringify(value));
    },
  };
}

/** One run as the --json report gives it: what ran, where, how long, with which calls and sampler. */
export function runJson(backend: OrtBackend, spec: RunSpec, method: Method, r: GenerateResult): Record<string, unknown> {
  const c = backend.manifest.condition;
  return {
    method,
    steps: spec.steps,
    budget: method === 'vanilla' ? spec.steps : spec.budget,
    seed: spec.seed,
    count: r.batch,
    ...(spec.text !== null
      ? { prompt: spec.text.prompt, ...(spec.text.negativePrompt !== undefined ? { negativePrompt: spec.text.negativePrompt } : {}) }
      : { class: spec.condition, className: spec.condition !== null && c.type === 'class' ? c.classNames[spec.condition] : null }),
    ...(spec.guidanceCutoff !== undefined ? { guidanceCutoff: spec.guidanceCutoff } : {}),
    timings: { ...r.timings, msPerImage: r.timings.totalMs / r.batch },
    calls: r.calls,
    sampler: r.sampler,
    // Text bundles: each distinct prompt's token count and whether it was truncated.
    ...(r.text !== null ? { text: r.text } : {}),
  };
}

/** What every --json report starts with: the bundle and the device. */
export function bundleJson(backend: OrtBackend): Record<string, unknown> {
  const m = backend.manifest;
  return { bundle: { name: m.name, version: m.version ?? null, family: m.family }, device: backend.device };
}
