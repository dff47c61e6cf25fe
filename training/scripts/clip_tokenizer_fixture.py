"""Reference CLIP token ids for the JavaScript tokenizer's equality test, built at test time (nothing committed).

usage (from the repository root):
    training/.venv/bin/python training/scripts/clip_tokenizer_fixture.py OUTDIR

writes into OUTDIR:
    vocab.json, merges.txt  CLIP's vocabulary (49,408 ids) built from open-clip-torch's bpe_simple_vocab_16e6.txt.gz
    tokenizer.json          the Hugging Face fast-tokenizer JSON, written exactly as `import-amused` writes a
                            bundle's tokenizer.json (padding and truncation to 77 switched on)
    prompts.json            {"reference", "maxLength": 77, "bosId", "eosId", "padId", "prompts": [{"text", "ids"
                            (77 ids: start, BPE, end, padded with the end id / truncated with the end id last),
                            "truncated", "originalClip"?}]}: >= 200 prompts (ASCII, accents, combining marks,
                            emoji, CJK and other scripts, punctuation, numbers, HTML entities, literal special
                            tokens, empty, whitespace runs, longer than 77 tokens)

The ids come from transformers' `CLIPTokenizer` (padding="max_length", truncation=True, max_length=77), which is
what AmusedPipeline calls. In transformers 5 that class is backed by the `tokenizers` library (the pure-Python
"slow" CLIPTokenizer of transformers 4 is gone). For comparison, "originalClip" is present where CLIP's own
Python tokenizer (open_clip's SimpleTokenizer: ftfy, HTML unescaping, whitespace cleanup, lower-casing) gives
other BPE ids for the text (without start/end tokens and before truncation); `summary.originalClipDiffers`
counts those prompts.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from migm_train.amused.importer import write_tokenizer_json  # noqa: E402
from migm_train.amused.text import MAX_LENGTH, clip_merges_file, load_tokenizer, write_tokenizer_folder  # noqa: E402

BASE = [
    "", " ", "   ", "\t", "\n\n", "  a  photo \t of\n a   cat  ", "a photo of a cat", "A PHOTO OF A CAT",
    "An astronaut riding a horse on the moon, highly detailed, 8k", "a watercolor painting of a lighthouse at dawn",
    "portrait of an old fisherman, oil on canvas", "a bowl of ramen, studio lighting, f/1.8",
    "don't stop: it's what we're doing, they'll see, I'd say, you've won, I'm here",
    "DON'T IT'S WE'RE", "rock'n'roll", "o'clock", "the cat's toy", "l'été à Paris",
    "café naïve résumé Ångström façade coöperate", "Straße Größe Übermut", "crème brûlée", "piñata jalapeño",
    "e\u0301 (combining acute) vs \u00e9", "A\u030a and \u00c5", "ﬁne ﬂour (ligatures)", "ＡＢＣ ｆｕｌｌｗｉｄｔｈ １２３",
    "日本語のテキスト", "東京タワーの夜景", "一只猫坐在窗台上", "한국어 문장입니다", "ภาษาไทย", "हिन्दी पाठ",
    "العربية نص", "עברית", "Ελληνικά κείμενο", "Русский текст про кошку", "Türkçe ığüşöç", "Tiếng Việt có dấu",
    "🙂", "🚀🔥✨", "a cat 🐱 on a 🛋️", "👩‍👩‍👧‍👦 family", "🇫🇷 flag", "❤️ love", "☕ coffee", "©®™ symbols",
    "0", "42", "123456789", "3.14159", "1,000,000", "2nd 3rd 4th 21st", "10% off", "$5.99", "€100 £20 ¥300",
    "1/2 3/4", "x^2 + y^2 = z^2", "#hashtag @mention", "email@example.com", "https://example.com/a?b=c&d=e",
    "!!!", "???", "...", "!?!?", "---", "***", "a-b_c.d", "(parentheses) [brackets] {braces}", "<angle>",
    "\"quoted\" 'single'", "“curly quotes” ‘single’", "em—dash en–dash", "ellipsis…", "semi;colon:colon",
    "back\\slash", "pipe|bar", "tilde~", "`backtick`", "caret^", "a&b", "&amp; &lt;3 &gt; &quot;", "&#39;",
    "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "<|startoftext|>hello<|endoftext|>",
    "tab\tseparated\tvalues", "line\nbreaks\r\nhere", "non\u00a0breaking\u00a0space", "zero\u200bwidth",
    "soft\u00adhyphen", "trailing space ", " leading space", "MiXeD CaSe WoRdS",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789" * 3, "a" * 200, "word " * 100, "the quick brown fox jumps over the lazy dog " * 8,
    ("A highly detailed matte painting of a sprawling futuristic city at sunset, with flying cars, neon signs, "
     "towering skyscrapers, lush rooftop gardens, crowds of people in colorful clothing, reflections on wet "
     "streets after the rain, volumetric light, cinematic composition, trending on artstation, 8k resolution, "
     "by a famous concept artist, ultra realistic, octane render, depth of field, bokeh"),
    "😀" * 80, "日本" * 60, "!?" * 100,
]
SUBJECTS = ["cat", "dog", "red fox", "lighthouse", "bowl of ramen", "astronaut", "castle", "robot", "tree",
            "mountain lake", "vintage car", "teapot", "dragon", "sunflower", "city street"]
STYLES = ["oil painting", "photo, 35mm", "pixel art", "watercolor", "3D render", "pencil sketch", "anime style",
          "low poly", "ukiyo-e", "studio photo"]
EXTRAS = ["", ", 4k", " at night!", " in the rain...", " (1990s)", " — close-up", " #2", " x10", " 🌙", " über",
          " naïve", " 日本", " & friends", "!!", " 50%"]


def prompts() -> list[str]:
    out = list(BASE)
    for i in range(len(SUBJECTS) * len(STYLES)):
        s, st = SUBJECTS[i % len(SUBJECTS)], STYLES[(i // len(SUBJECTS)) % len(STYLES)]
        ex = EXTRAS[(i * 7) % len(EXTRAS)]
        text = f"a {st} of a {s}{ex}" if i % 3 else f"{s.upper()}, {st}{ex}"
        if text not in out:
            out.append(text)
    return out


def _original_clip():
    """open_clip's SimpleTokenizer, loaded from its file (the package's __init__ imports torchvision)."""
    import gzip  # noqa: F401 (the module needs it)

    spec = importlib.util.find_spec("open_clip")
    path = os.path.join(list(spec.submodule_search_locations)[0], "tokenizer.py")
    mod_spec = importlib.util.spec_from_file_location("_open_clip_tokenizer", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod.SimpleTokenizer(clip_merges_file())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    write_tokenizer_folder(out)
    tok = load_tokenizer(out)
    write_tokenizer_json(tok, os.path.join(out, "tokenizer.json"))
    try:
        original = _original_clip()
    except Exception:  # ftfy or open-clip-torch missing: the comparison is optional
        original = None
    texts = prompts()
    ids = tok(texts, padding="max_length", truncation=True, max_length=MAX_LENGTH).input_ids
    full = tok(texts, add_special_tokens=False).input_ids
    rows, differs = [], 0
    for text, row, content in zip(texts, ids, full):
        assert len(row) == MAX_LENGTH
        entry = {"text": text, "ids": row, "truncated": len(content) + 2 > MAX_LENGTH}
        if original is not None:
            theirs = original.encode(text)
            if theirs != content:
                entry["originalClip"] = theirs
                differs += 1
        rows.append(entry)
    import transformers

    doc = {"reference": f"transformers {transformers.__version__} CLIPTokenizer(padding='max_length', truncation=True, "
                        f"max_length={MAX_LENGTH})",
           "maxLength": MAX_LENGTH, "bosId": tok.bos_token_id, "eosId": tok.eos_token_id, "padId": tok.pad_token_id,
           "summary": {"prompts": len(rows), "truncated": sum(r["truncated"] for r in rows),
                       "originalClipCompared": original is not None, "originalClipDiffers": differs},
           "prompts": rows}
    with open(os.path.join(out, "prompts.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)
    print(f"wrote {out}: vocab.json, merges.txt, tokenizer.json, prompts.json ({len(rows)} prompts, "
          f"{doc['summary']['truncated']} truncated, original CLIP differs on {differs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
