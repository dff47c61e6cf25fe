import type { StepEvent } from '@migm/core';

/** A one-line progress bar on a TTY stream; silent elsewhere (pipes, CI logs). */
export function progressBar(stream: NodeJS.WriteStream, label: string): { onStep: (e: StepEvent) => void; done: () => void } {
  const active = stream.isTTY === true;
  let drawn = false;
  return {
    onStep: (e) => {
      if (!active) return;
      const width = 24;
      const filled = Math.round(((e.step + 1) / e.steps) * width);
      stream.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] step ${e.step + 1}/${e.steps} ${e.kind === 'full' ? 'base   ' : 'skipped'} ${(e.elapsedMs / 1000).toFixed(1)}s`,
      );
      drawn = true;
    },
    done: () => {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
