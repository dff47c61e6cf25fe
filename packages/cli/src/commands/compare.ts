import { generate } from '@migm/core';
import { intFlag, parse } from '../args.js';
import { fmtMs, loadBackend } from '../common.js';
import { UsageError } from '../errors.js';
import { ACCELERATED_METHODS, predictorOf } from '../methods.js';
import { encodePng, sideBySide } from '../png.js';
import { bundleJson, output, runJson } from '../output.js';
import { labelAbove } from '../labels.js';
import { conditionOptions, describeRun, generateFlags, gridOf, runOnce, runSpec, samplerBackendOptions, samplerFlag, timingLine } from './generate.js';

/** Same seed and class through vanilla and another method; one PNG with both, and the speed-up. */
export async function compareCommand(argv: string[]): Promise<void> {
  const values = parse(argv, generateFlags);
  const columns = intFlag('columns', values.columns, undefined, 1, 1024);
  const scale = intFlag('scale', values.scale, 4, 1, 32)!;
  const o = output(values, 'migm-compare.png');
  const quiet = values.quiet === true || o.json;
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
    const vanilla = await runOnce(backend, spec, 'vanilla', quiet);
    const fast = await runOnce(backend, spec, spec.method, quiet);
    const speedup = vanilla.timings.totalMs / fast.timings.totalMs;
    const perImage = (r: typeof vanilla) => `${fmtMs(r.timings.totalMs / r.batch)}/image`;
    // Each grid says what it is, so the PNG stands on its own (in a chat, a report, a folder of files).
    const png = sideBySide(
      [
        await labelAbove(await gridOf(backend, vanilla, columns, scale), `vanilla N=${spec.steps}: ${perImage(vanilla)}`),
        await labelAbove(
          await gridOf(backend, fast, columns, scale),
          `${spec.method} N=${spec.steps} B=${spec.budget}: ${perImage(fast)}, ${speedup.toFixed(2)}x`,
        ),
      ],
      16,
    );
    await o.writePng(encodePng(png));
    o.line(
      `wrote ${o.out === '-' ? 'the PNG to stdout' : o.out}: left ${describeRun(backend, spec, 'vanilla')}; right ${describeRun(backend, spec, spec.method)}`,
    );
    o.line(`vanilla:  ${timingLine(vanilla)}`);
    o.line(`${spec.method.padEnd(8)}: ${timingLine(fast)}`);
    o.line(`speed-up: ${speedup.toFixed(2)}x`);
    o.result({
      command: 'compare',
      out: o.out,
      ...bundleJson(backend),
      left: runJson(backend, spec, 'vanilla', vanilla),
      right: runJson(backend, spec, spec.method, fast),
      speedup,
    });
  } finally {
    await backend.dispose();
  }
}
