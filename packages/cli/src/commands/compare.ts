import { writeFile } from 'node:fs/promises';
import { generate } from '@migm/core';
import { intFlag, parse } from '../args.js';
import { checkOutPath, loadBackend } from '../common.js';
import { UsageError } from '../errors.js';
import { ACCELERATED_METHODS, predictorOf } from '../methods.js';
import { encodePng, sideBySide } from '../png.js';
import { conditionOptions, describeRun, generateFlags, gridOf, runOnce, runSpec, samplerBackendOptions, samplerFlag, timingLine } from './generate.js';

/** Same seed and class through vanilla and another method; one PNG with both, and the speed-up. */
export async function compareCommand(argv: string[]): Promise<void> {
  const values = parse(argv, generateFlags);
  const columns = intFlag('columns', values.columns, undefined, 1, 1024);
  const scale = intFlag('scale', values.scale, 4, 1, 32)!;
  const out = values.out ?? 'migm-compare.png';
  checkOutPath('out', out);
  const backend = await loadBackend(values, samplerBackendOptions(samplerFlag(values)));
  try {
    const spec = runSpec(backend, values, backend.capabilities.velocity ? 'shortcut' : 'taylor');
    if (spec.method === 'vanilla') throw new UsageError(`--method must be one of ${ACCELERATED_METHODS.join(', ')} for compare (it always runs vanilla too)`);
    // Warm-up of both methods at the real batch shape: onnxruntime's first run per shape pays one-time costs.
    for (const predictor of ['vanilla', predictorOf(spec.method)] as const) {
      await generate(backend, {
        ...conditionOptions(spec),
        batch: spec.count,
        steps: 2,
        predictor,
        seed: 0,
        ...(predictor === 'vanilla' ? {} : { budget: 1 }),
      });
    }
    const vanilla = await runOnce(backend, spec, 'vanilla', values.quiet === true);
    const fast = await runOnce(backend, spec, spec.method, values.quiet === true);
    const png = sideBySide([await gridOf(backend, vanilla, columns, scale), await gridOf(backend, fast, columns, scale)], 16);
    await writeFile(out, encodePng(png));
    console.log(`wrote ${out}: left ${describeRun(backend, spec, 'vanilla')}; right ${describeRun(backend, spec, spec.method)}`);
    console.log(`vanilla:  ${timingLine(vanilla)}`);
    console.log(`${spec.method.padEnd(8)}: ${timingLine(fast)}`);
    console.log(`speed-up: ${(vanilla.timings.totalMs / fast.timings.totalMs).toFixed(2)}x`);
  } finally {
    await backend.dispose();
  }
}
