/**
 * @migm/tokenizers: the prompt tokenizers of migm's text-conditioned bundles. A backend loads the bundle's
 * sha256-checked tokenizer file with `tokenizerFor` and offers the result as its `tokenizer`; `@migm/core`
 * takes the ids it gives as data and stays free of any tokenizer library.
 */
export { ClipTokenizer, tokenizerFor, type ClipTokenizerOptions } from './clip.js';
