"""CLIP's text side, from transformers: the tokenizer (vocab.json + merges.txt -> a Hugging Face tokenizer.json)
and `CLIPTextModelWithProjection`, exported as the `textEncoder` graph: input ids [b, 77] -> the penultimate
layer's hidden states (hidden_states[-2], before the final layer norm) and the projected pooled embedding
(text_embeds), which is what AmusedPipeline passes to the U-ViT.

CLIP's vocabulary is derived from its BPE merges file, which the open-clip-torch package carries
(open_clip/bpe_simple_vocab_16e6.txt.gz); `write_clip_vocab` builds vocab.json + merges.txt from it the way
CLIP's own SimpleTokenizer does (256 byte symbols, the same with </w>, 48,894 merges, then the two specials).
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import os

import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is read from local folders; never ask the Hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # libraries print nothing

MAX_LENGTH = 77
CLIP_MERGES = 49152 - 256 - 2  # merges used by CLIP (the file's first line is a header)
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def clip_merges_file() -> str:
    """Path of open_clip's bpe_simple_vocab_16e6.txt.gz, found without importing open_clip (its package
    imports torchvision, which this environment does not need)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open-clip-torch is not installed (it carries CLIP's BPE merges file): "
                                "bash scripts/setup.sh makes training/.venv with it")
    path = os.path.join(list(spec.submodule_search_locations)[0], "bpe_simple_vocab_16e6.txt.gz")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing from the open-clip-torch package")
    return path


def _bytes_to_unicode() -> list[str]:
    """CLIP/GPT-2's reversible byte -> printable character table, in CLIP's vocabulary order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_clip_vocab(folder: str, merges_gz: str | None = None) -> tuple[str, str]:
    """Writes vocab.json (49,408 ids) and merges.txt for CLIP into `folder`; returns their paths."""
    with gzip.open(merges_gz or clip_merges_file(), "rt", encoding="utf-8") as fh:
        merges = fh.read().split("\n")[1:CLIP_MERGES + 1]
    pairs = [tuple(m.split()) for m in merges]
    symbols = _bytes_to_unicode()
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(p) for p in pairs] + [BOS, EOS]
    os.makedirs(folder, exist_ok=True)
    vpath, mpath = os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt")
    with open(vpath, "w", encoding="utf-8") as fh:
        json.dump({tok: i for i, tok in enumerate(vocab)}, fh, ensure_ascii=False)
    with open(mpath, "w", encoding="utf-8") as fh:
        fh.write("#version: 0.2\n" + "\n".join(" ".join(p) for p in pairs) + "\n")
    return vpath, mpath


def write_tokenizer_folder(folder: str) -> None:
    """The published `tokenizer/` folder: vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json."""
    write_clip_vocab(folder)
    specials = {"bos_token": BOS, "eos_token": EOS, "unk_token": EOS, "pad_token": EOS}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as fh:
        json.dump(specials, fh, indent=2)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as fh:
        json.dump({"tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH, "do_lower_case": True,
                   "errors": "replace", **specials}, fh, indent=2)


def load_tokenizer(folder: str):
    """transformers' CLIPTokenizer from a folder with vocab.json + merges.txt (and its special-token files)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


def text_config(folder: str):
    from transformers import CLIPTextConfig

    return CLIPTextConfig.from_json_file(os.path.join(folder, "config.json"))


def build_text_model(config) -> nn.Module:
    """CLIPTextModelWithProjection with eager attention (explicit ops, exported exactly to ONNX)."""
    from transformers import CLIPTextModelWithProjection

    config._attn_implementation = "eager"
    model = CLIPTextModelWithProjection(config)
    return model.eval()



class TextEncoderGraph(nn.Module):
    """ONNX role `textEncoder`: inputIds [b, 77] int32 -> textStates [b, 77, E] (hidden_states[-2]) +
    pooled [b, P] (text_embeds)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        out = self.model(input_ids=input_ids.long(), output_hidden_states=True, return_dict=True)
        return out.hidden_states[-2], out.text_embeds


def clip_l14_config_json(vocab_size: int = 49408) -> dict:
    """openai/clip-vit-large-patch14's text config (what amused-256/512 ship as text_encoder/config.json)."""
    return {"architectures": ["CLIPTextModelWithProjection"], "model_type": "clip_text_model",
            "vocab_size": vocab_size, "hidden_size": 768, "intermediate_size": 3072, "projection_dim": 768,
            "num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": MAX_LENGTH,
            "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0,
            "initializer_range": 0.02, "initializer_factor": 1.0, "bos_token_id": 0, "eos_token_id": 2,
            "pad_token_id": 1, "torch_dtype": "float32"}


def torch_ids(tokenizer, prompts: list[str]) -> torch.Tensor:
    """AmusedPipeline's tokenization: padding to max_length, truncation, 77 ids per prompt."""
    enc = tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    return enc.input_ids
