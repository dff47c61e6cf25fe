import { Tokenizer } from '@huggingface/tokenizers';
import { MigmError, type PromptTokenizer, type TextCondition, type TokenizedPrompt } from '@migm/core/backend';

// Node and browsers both have TextDecoder; this package is built without DOM or Node types, so it is typed here.
const Utf8Decoder = (globalThis as unknown as { TextDecoder: new (label: 'utf-8', options: { fatal: boolean }) => { decode(bytes: Uint8Array): string } })
  .TextDecoder;

/** Where a CLIP tokenizer's special ids come from when `condition.tokenizer` does not state them. */
const START = '<|startoftext|>';
const END = '<|endoftext|>';

/** Options of {@link ClipTokenizer}. */
export interface ClipTokenizerOptions {
  /** Ids per prompt, start and end tokens included (`condition.maxLength`; 77 for CLIP). */
  readonly maxLength: number;
  /** Start token id. Default: the vocabulary's id of `<|startoftext|>`. */
  readonly bosId?: number | undefined;
  /** End token id. Default: the vocabulary's id of `<|endoftext|>`. */
  readonly eosId?: number | undefined;
  /** Padding id. Default: the end token id (CLIP pads with `<|endoftext|>`). */
  readonly padId?: number | undefined;
}

/**
 * CLIP's tokenizer, as transformers' `CLIPTokenizer` gives `input_ids` with `padding="max_length",
 * truncation=True, max_length=maxLength`: the tokenizer.json's own normalizer (NFC, whitespace runs to one space,
 * lower case), pre-tokenizer (CLIP's word regex, byte-level) and BPE (with `</w>` word ends) run in
 * `@huggingface/tokenizers`; then the start token, the first maxLength - 2 tokens, the end token, and padding.
 * Longer prompts are cut there and reported (`truncated`, and `length` the untruncated count).
 *
 * @example
 * const tokenizer = new ClipTokenizer(JSON.parse(tokenizerJsonText), { maxLength: 77 });
 * tokenizer.encode('a photo of a cat').ids; // Int32Array [49406, 320, 1125, 539, 320, 2368, 49407, 49407, ...]
 */
export class ClipTokenizer implements PromptTokenizer {
  readonly maxLength: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Largest id the vocabulary holds (added tokens included). */
  readonly maxId: number;
  readonly #tokenizer: Tokenizer;

  constructor(tokenizerJson: unknown, options: ClipTokenizerOptions) {
    if (tokenizerJson === null || typeof tokenizerJson !== 'object' || Array.isArray(tokenizerJson))
      throw new MigmError('BUNDLE_MISMATCH', 'The tokenizer file must hold a JSON object (a Hugging Face tokenizer.json).');
    const model = (tokenizerJson as { model?: { type?: unknown; vocab?: unknown } }).model;
    if (model?.type !== 'BPE' || model.vocab === null || typeof model.vocab !== 'object')
      throw new MigmError(
        'BUNDLE_MISMATCH',
        `The tokenizer file is not a BPE tokenizer.json (model.type ${JSON.stringify(model?.type)}); kind clip-bpe needs CLIP's BPE.`,
      );
    const { maxLength } = options;
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw new MigmError('INVALID_OPTION', `ClipTokenizer: maxLength must be an integer >= 2, got ${maxLength}.`);
    try {
      this.#tokenizer = new Tokenizer(tokenizerJson, {});
    } catch (err) {
      throw new MigmError('BUNDLE_MISMATCH', `The tokenizer file could not be loaded: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const vocab = this.#tokenizer.get_vocab(true);
    let maxId = 0;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.maxId = maxId;
    const special = (given: number | undefined, token: string, what: string): number => {
      const id = given ?? vocab.get(token);
      if (id === undefined) throw new MigmError('BUNDLE_MISMATCH', `The tokenizer has no ${token} token and the manifest gives no ${what}.`);
      if (!Number.isInteger(id) || id < 0 || id > maxId)
        throw new MigmError('BUNDLE_MISMATCH', `The tokenizer's ${what} ${id} is not an id of its vocabulary (0..${maxId}).`);
      return id;
    };
    this.maxLength = maxLength;
    this.bosId = special(options.bosId, START, 'bosId');
    this.eosId = special(options.eosId, END, 'eosId');
    this.padId = special(options.padId ?? this.eosId, END, 'padId');
  }

  /** The prompt's ids: [start, tokens (at most maxLength - 2), end, padding], and whether it was cut. */
  encode(prompt: string): TokenizedPrompt {
    if (typeof prompt !== 'string') throw new MigmError('INVALID_OPTION', `The prompt must be a string, got ${prompt === null ? 'null' : typeof prompt}.`);
    const body = this.tokens(prompt);
    const T = this.maxLength;
    const kept = Math.min(body.length, T - 2);
    const ids = new Int32Array(T).fill(this.padId);
    ids[0] = this.bosId;
    for (let i = 0; i < kept; i++) ids[1 + i] = body[i]!;
    ids[1 + kept] = this.eosId;
    return { ids, length: body.length + 2, truncated: body.length > T - 2 };
  }

  /** The prompt's BPE ids without start, end or padding. */
  tokens(prompt: string): number[] {
    return this.#tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  }
}

/**
 * The tokenizer a text bundle's manifest names (`condition.tokenizer`), from the bytes of its tokenizer file
 * (already sha256-checked by the loader). Throws `BUNDLE_MISMATCH` for a file that is not such a tokenizer, and
 * `UNSUPPORTED` for a tokenizer kind this version does not know.
 *
 * @example
 * const tokenizer = tokenizerFor(manifest.condition, files.get(manifest.condition.tokenizer.file)!);
 */
export function tokenizerFor(condition: TextCondition, bytes: Uint8Array): ClipTokenizer {
  const { kind, file, bosId, eosId, padId } = condition.tokenizer;
  if (kind !== 'clip-bpe')
    throw new MigmError('UNSUPPORTED', `Tokenizer kind ${JSON.stringify(kind)} (${file}) is not supported; this version reads clip-bpe.`);
  let json: unknown;
  try {
    json = JSON.parse(new Utf8Decoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new MigmError('BUNDLE_MISMATCH', `Tokenizer file ${file} is not UTF-8 JSON: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      details: { file },
    });
  }
  return new ClipTokenizer(json, { maxLength: condition.maxLength, bosId, eosId, padId });
}
