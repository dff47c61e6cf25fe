import { MigmError, type TensorSpec } from '@migm/core/backend';
import type { InferenceSession } from './ort-types.js';

/**
 * Checks a loaded ONNX graph against its manifest entry: every declared input and output exists under its
 * name, with the declared dtype and rank, and fixed dimensions agree. Throws `BUNDLE_MISMATCH` naming the
 * file, the tensor and the difference.
 */
export function checkGraph(file: string, session: InferenceSession, spec: { inputs: Record<string, TensorSpec>; outputs: Record<string, TensorSpec> }): void {
  const problems: string[] = [];
  const sides = [
    ['input', spec.inputs, session.inputMetadata, session.inputNames],
    ['output', spec.outputs, session.outputMetadata, session.outputNames],
  ] as const;
  for (const [side, declared, metadata, names] of sides) {
    for (const [role, t] of Object.entries(declared)) {
      if (!names.includes(t.name)) {
        problems.push(`${side} '${t.name}' (${role}) is missing; the graph has ${names.map((n) => `'${n}'`).join(', ')}`);
        continue;
      }
      const meta = metadata?.find((m) => m.name === t.name);
      if (!meta || !meta.isTensor) continue; // older runtimes expose no metadata: names are all we can check
      if (meta.type !== t.dtype) problems.push(`${side} '${t.name}' has dtype ${meta.type}, the manifest says ${t.dtype}`);
      if (meta.shape.length > 0) {
        if (meta.shape.length !== t.shape.length) {
          problems.push(`${side} '${t.name}' has shape [${meta.shape.join(', ')}], the manifest says [${t.shape.join(', ')}]`);
        } else {
          for (let i = 0; i < t.shape.length; i++) {
            const a = meta.shape[i];
            const b = t.shape[i];
            if (typeof a === 'number' && typeof b === 'number' && a !== b) {
              problems.push(`${side} '${t.name}' dimension ${i} is ${a}, the manifest says ${b}`);
            }
          }
        }
      }
    }
  }
  if (problems.length > 0) {
    throw new MigmError('BUNDLE_MISMATCH', `Graph ${file} does not match the manifest: ${problems.join('; ')}.`, { details: { file, problems } });
  }
}
