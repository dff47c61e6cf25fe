import { readBundleDir } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { parse } from '../args.js';
import { jsonFlag } from '../output.js';

/** Prints what a bundle holds: a few summary lines, then the class names one per line (or, with --json, the manifest). */
export async function infoCommand(argv: string[]): Promise<void> {
  const values = parse(argv, { bundle: { type: 'string' }, ...jsonFlag });
  const { dir, manifest: m } = await readBundleDir(values.bundle ?? bundleDir());
  if (values.json === true) {
    console.log(JSON.stringify({ command: 'info', dir, manifest: m }));
    return;
  }
  const s = m.sampling;
  console.log(`${m.name}${m.version ? ` ${m.version}` : ''} (${m.family}) at ${dir}`);
  console.log(
    `image ${m.image.width}x${m.image.height}x${m.image.channels}; ${m.tokens.count} tokens (${m.tokens.grid.join('x')}), codebook ${m.tokens.codebookSize}, feature width ${m.featureDim}`,
  );
  const c = m.condition;
  if (c.type === 'text') {
    const micro = c.microConditioning
      ? `; micro-conditioning ${c.microConditioning.names.map((n, i) => `${n} ${c.microConditioning!.default[i]}`).join(', ')}`
      : '';
    console.log(
      `prompts: ${c.tokenizer.kind} tokenizer (${c.tokenizer.file}), ${c.maxLength} tokens, negative prompt ${JSON.stringify(c.negativePrompt)}${micro}`,
    );
    if (c.examplePrompts?.length) console.log(`example prompts: ${c.examplePrompts.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  console.log(
    `defaults: N=${s.steps} ${s.schedule}, budget ${s.budget}, guidance ${s.guidance.scale} (${s.guidance.schedule}), inverse temperature ${s.inverseTemperature}, r_temp ${s.randomizeTemperature}${s.skippedRandomizeTemperature !== undefined ? ` (${s.skippedRandomizeTemperature} at skipped steps)` : ''}`,
  );
  for (const [role, g] of Object.entries(m.graphs)) {
    const file = m.files.find((f) => f.path === g.file);
    console.log(
      `graph ${role.padEnd(10)} ${g.file} ${file ? `${(file.bytes / 1e6).toFixed(2)} MB` : ''}${g.parameters ? `, ${(g.parameters / 1e6).toFixed(2)} M parameters` : ''}${'trainedSteps' in g ? `, trained at N=${g.trainedSteps}` : ''}`,
    );
  }
  // Last, one per line: a 1,000-class bundle lists them without burying the lines above.
  if (c.type === 'class') {
    console.log(`classes (${c.classNames.length}, id name):`);
    for (const [i, n] of c.classNames.entries()) console.log(`  ${i} ${n}`);
  }
}
