import type { StepEvent } from '@migm/core';
import type { LoadProgressEvent } from '@migm/backend-node';

/** The part of a stream progress is written to (process.stderr in the CLI). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Seconds between plain progress lines (off a terminal): often enough to show life, rare enough for a CI log. */
const PLAIN_EVERY_MS = 5000;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Off a terminal, a load shows progress when the bundle is this large: small bundles stay quiet. By size only, not by
 * elapsed time, so what a script or a test reads does not depend on how busy the machine is.
 */
export const LARGE_BUNDLE_BYTES = 32 * 1024 * 1024;

/**
 * Load progress of a bundle. On a terminal, one line redrawn in place (bytes verified, then sessions created).
 * Off one (pipes, CI logs), for a bundle of LARGE_BUNDLE_BYTES or more: a loading line,
 * then plain lines, one per tenth of the bytes and one per session, so a load of minutes shows life. `done`
 * clears the terminal line and returns a summary ("912 MB verified and 4 sessions in 34.1 s"), or undefined
 * when nothing was shown.
 */
export function loadProgress(
  stream: ProgressStream,
  what: string,
  now: () => number = Date.now,
): { onProgress: (e: LoadProgressEvent) => void; done: () => string | undefined } {
  const tty = stream.isTTY === true;
  const t0 = now();
  let drawn = false;
  let shown = tty;
  let lastTenth = -1;
  let bytes = 0;
  let sessions = 0;
  const line = (text: string) => {
    if (tty) {
      stream.write(`\r\x1b[2K${text}`);
      drawn = true;
    } else stream.write(`${text}\n`);
  };
  return {
    onProgress: (e) => {
      const at = secs(now() - t0);
      if (e.type === 'file-start' || e.type === 'file-progress' || e.type === 'file-done') bytes = e.totalBytes;
      if (!shown && bytes >= LARGE_BUNDLE_BYTES) {
        shown = true;
        line(`migm: loading ${what} (${mb(bytes)})`);
      }
      if (!shown) return;
      if (e.type === 'file-progress' || e.type === 'file-done') {
        const pct = e.totalBytes > 0 ? Math.floor((e.totalLoaded / e.totalBytes) * 100) : 100;
        if (tty) line(`loading ${what}: ${mb(e.totalLoaded)} of ${mb(e.totalBytes)} verified (${pct}%, ${e.file}) ${at}`);
        else if (Math.floor(pct / 10) > lastTenth) {
          lastTenth = Math.floor(pct / 10);
          line(`loading: ${mb(e.totalLoaded)} of ${mb(e.totalBytes)} verified (${pct}%) ${at}`);
        }
      } else if (e.type === 'session-start') {
        line(`loading: creating onnxruntime session ${e.index + 1}/${e.count} (${e.role}, ${e.file}) ${at}`);
      } else if (e.type === 'session-done') {
        sessions = e.count;
        if (!tty) line(`loading: session ${e.index + 1}/${e.count} (${e.role}) ready in ${secs(e.ms ?? 0)}`);
      }
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
      if (!shown) return undefined;
      return `${bytes > 0 ? `${mb(bytes)} verified and ` : ''}${sessions} sessions in ${secs(now() - t0)}`;
    },
  };
}

/**
 * Generation progress. On a terminal a one-line bar redrawn in place; off one, plain lines once the run passes a
 * second (a fast run prints none): then at most one every 5 s, and the last step. From the first step on, an estimate of the seconds per image: elapsed
 * time per full step so far, times the full steps of the plan, over the batch (skipped steps cost little).
 */
export function progressBar(
  stream: ProgressStream,
  label: string,
  plan: { fullSteps: number; batch: number } = { fullSteps: 0, batch: 1 },
  now: () => number = Date.now,
): { onStep: (e: StepEvent) => void; done: () => void } {
  const tty = stream.isTTY === true;
  let drawn = false;
  let full = 0;
  let lastLine = -Infinity;
  let printed = false;
  return {
    onStep: (e) => {
      if (e.kind === 'full') full++;
      const planned = Math.max(plan.fullSteps, full);
      const estimate = full > 0 && planned > 0 ? ` ~${secs(((e.elapsedMs / full) * planned) / plan.batch)}/image` : '';
      const kind = e.kind === 'full' ? 'base   ' : 'skipped';
      if (tty) {
        const width = 24;
        const filled = Math.round(((e.step + 1) / e.steps) * width);
        stream.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${e.step + 1}/${e.steps} ${kind} ${secs(e.elapsedMs)}${estimate}`);
        drawn = true;
        return;
      }
      // Off a terminal a fast run prints nothing; a slow one a line once it passes a second, then every 5 s, and its last step.
      const t = now();
      const last = e.step === e.steps - 1;
      if ((printed && last) || (e.elapsedMs >= 1000 && t - lastLine >= PLAIN_EVERY_MS)) {
        printed = true;
        lastLine = t;
        stream.write(`${label}: step ${e.step + 1}/${e.steps} (${kind.trim()}) ${secs(e.elapsedMs)}${estimate}\n`);
      }
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

/**
 * The images `migm generate` makes when --count is not given: 16 small images (the 28 px default bundle), fewer
 * as they grow, one from 512 px up (a 512 x 512 MaskGIT image takes seconds to minutes on a CPU).
 */
export function defaultCount(image: { width: number; height: number }): number {
  const side = Math.max(image.width, image.height);
  return side <= 64 ? 16 : side <= 128 ? 8 : side <= 256 ? 4 : 1;
}
