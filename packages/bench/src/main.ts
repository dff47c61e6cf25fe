import { isMigmError } from '@migm/core';
import { benchCommand } from './command.js';
import { UsageError } from './flags.js';
import { METHOD_NAMES } from './methods.js';

export const USAGE = `migm-bench [--quick] [--images 2000] [--batch 16] [--out bench-out] [--markdown BENCHMARKS.md] [--torch DIR|off]
           [--methods vanilla,shortcut,...] [--steps 4,16,...] [--budgets 4,5,...] [--vanilla-steps 16,32,...]
           [--refresh fixed,adaptive] [--guidance-cutoff false,0,1,2] [--bundle DIR] [--device cpu|cuda|auto] [--threads T]
  (the Pareto benchmark of BENCHMARKS.md: latency, and FD, FD to vanilla, precision, recall and class accuracy
   under three evaluators (two classifiers trained independently, an autoencoder trained without labels), of ${METHOD_NAMES.join(', ')};
   --methods, --steps and --budgets run a subset of its settings (--vanilla-steps: vanilla's N, --steps then
   picks the accelerated rows' N); --refresh and --guidance-cutoff run each setting with each of generate()'s
   refresh policies (fixed: the plan; adaptive: full steps placed at run time, accelerated rows only) and
   guidance cutoffs (default 0; false: both branches everywhere). In this repository: pnpm bench [flags])`;

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
    console.error(
      `migm-bench: unexpected error: ${err instanceof Error ? err.message : String(err)}${process.env['MIGM_DEBUG'] ? `\n${(err as Error).stack}` : ' (set MIGM_DEBUG=1 for a stack trace)'}`,
    );
    return 1;
  }
}
