// The one place JavaScript finds the training toolkit's Python: training/.venv/bin/python, the environment
// scripts/setup.sh makes from training/requirements.txt (PyTorch 2.13, transformers, onnxruntime, ...).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of training/.venv/bin/python (MIGM_PYTHON overrides it); it may not exist yet. */
export const TRAINING_PYTHON = process.env.MIGM_PYTHON ?? fileURLToPath(new URL('../training/.venv/bin/python', import.meta.url));

/** The interpreter's path, or an Error that says how to make it. */
export function trainingPython() {
  if (!existsSync(TRAINING_PYTHON)) {
    throw new Error(`${TRAINING_PYTHON} does not exist: make the training environment with "bash scripts/setup.sh" (or set MIGM_PYTHON)`);
  }
  return TRAINING_PYTHON;
}
