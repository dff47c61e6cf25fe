import { isMigmError } from '@migm/core';
import { benchCommand } from './command.js';
import { UsageError } from './flags.js';
import { METHOD_NAMES } from './methods.js';

export const USAGE = `migm-bench [--quick] [--images 2000] [--batch 16] [--out bench-out] [--markdown BENCHMARKS.md] [--torch DIR|off]
           [--methods vanilla,shortcut,...] [--steps 4,16,...] [--bundle DIR] [--device cpu|cuda|auto] [--threads T]
  (the Pareto benchmark of BENCHMARKS.md: latency, and FD, FD to vanilla, precision, recall and class accuracy
   under two independently trained evaluators, of ${METHOD_NAMES.join(', ')};
   --methods and --steps run a subset of its settings. In this repository: pnpm bench [flags])`;

/** Runs the bench; returns the exit code (0 ok, 1 runtime error, 2 usage error). Never throws. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: ${USAGE}`);
    return 0;
  }
  try {
    await benchCommand(argv);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`migm-bench: ${err.message} (see --help)`);
      return 2;
    }
    if (isMigmError(err)) {
      console.error(`migm-bench: ${err.message}`);
      return err.code === 'INVALID_OPTION' ? 2 : 1;
    }
    console.error(`migm-bench: unexpected error: ${err instanceof Error ? err.message : String(err)}${process.env['MIGM_DEBUG'] ? `\n${(err as Error).stack}` : ' (set MIGM_DEBUG=1 for a stack trace)'}`);
    return 1;
  }
}
