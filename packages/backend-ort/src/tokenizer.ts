import { MigmError, type Manifest } from '@migm/core/backend';
import { tokenizerFor } from '@migm/tokenizers';
import type { BundleTokenizer } from './session-backend.js';

/**
 * The tokenizer of a text-conditioned bundle, from the verified bytes of its tokenizer file
 * (`condition.tokenizer.file`, listed in `files` and sha256-checked by the loader like every file); undefined for
 * a class bundle. `BUNDLE_MISMATCH` when the file was not loaded or is not the tokenizer the manifest says.
 */
export function bundleTokenizer(bundle: { readonly manifest: Manifest; readonly files: ReadonlyMap<string, Uint8Array> }): BundleTokenizer | undefined {
  const c = bundle.manifest.condition;
  if (c.type !== 'text') return undefined;
  const bytes = bundle.files.get(c.tokenizer.file);
  if (bytes === undefined)
    throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${c.tokenizer.file} (the tokenizer) was not loaded.`, { details: { file: c.tokenizer.file } });
  return tokenizerFor(c, bytes);
}
