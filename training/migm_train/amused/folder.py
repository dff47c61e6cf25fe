"""Reading a model folder in the published layout (huggingface.co/amused/amused-256, amused-512):

    model_index.json                       {"_class_name": "AmusedPipeline", ...}
    transformer/config.json                UVit2DModel
    transformer/diffusion_pytorch_model[.fp16].safetensors
    vqvae/config.json                      VQModel
    vqvae/diffusion_pytorch_model[.fp16].safetensors
    text_encoder/config.json               CLIPTextModelWithProjection
    text_encoder/model[.fp16].safetensors
    tokenizer/vocab.json, merges.txt       CLIPTokenizer
    scheduler/scheduler_config.json        AmusedScheduler (mask_token_id)

Weights are read with safetensors only; a pickle-based file (.bin, .pt, .pth, .ckpt) in a weight file's place is
refused. Loading is strict for all three models; every mismatch is collected into one error before anything is
written.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch
from torch import nn

from .errors import ImportAmusedError, PickleWeightsError, WeightsMismatchError
from .uvit import UVIT_KEYS, UVit2D, UVitConfig
from .vq import VQ_KEYS, VQ_UNUSED_PREFIXES, VqDecoderModel, vq_params

SUBFOLDERS = ("transformer", "vqvae", "text_encoder", "tokenizer", "scheduler")
WEIGHT_STEMS = {"transformer": "diffusion_pytorch_model", "vqvae": "diffusion_pytorch_model", "text_encoder": "model"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Buffers that older transformers releases saved with the CLIP text model; not parameters, recomputed here.
TEXT_OPTIONAL_KEYS = ("text_model.embeddings.position_ids",)


@dataclass
class AmusedModels:
    uvit: UVit2D
    vq: VqDecoderModel
    text: nn.Module
    tokenizer: object
    mask_token_id: int
    skipped: dict  # component -> number of weight-file keys not needed here (the VQ encoder)
    sources: dict  # component -> weight file name (relative to the model folder)
    random: dict | None = None  # model_index.json's "_migm_random_weights" (folders written by --random-init)


def _json(path: str, what: str) -> dict:
    if not os.path.isfile(path):
        raise ImportAmusedError(f"{what}: {path} is missing")
    try:
        with open(path, encoding="utf-8") as fh:
            obj = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ImportAmusedError(f"{what}: {path} is not readable JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise ImportAmusedError(f"{what}: {path} is not a JSON object")
    return obj


def _class_of(cfg: dict, path: str, want: str, what: str) -> None:
    got = cfg.get("_class_name") or (cfg.get("architectures") or [None])[0]
    if got != want:
        raise ImportAmusedError(f"{what}: {path} describes {got!r}, not {want!r}: not an aMUSEd model folder")


def check_layout(model: str) -> dict:
    """The folder's model_index.json and every subfolder / config file, or one ImportAmusedError."""
    if not os.path.isdir(model):
        raise ImportAmusedError(f"--model: {model} is not a folder (it should hold the published repository's "
                                "files: model_index.json, transformer/, vqvae/, text_encoder/, tokenizer/, scheduler/)")
    index_path = os.path.join(model, "model_index.json")
    if not os.path.isfile(index_path):
        raise ImportAmusedError(f"--model: {model} has no model_index.json: not a diffusers pipeline folder "
                                "(download amused/amused-256 or amused/amused-512 whole)")
    index = _json(index_path, "--model")
    if index.get("_class_name") != "AmusedPipeline":
        raise ImportAmusedError(f"--model: {index_path} is a {index.get('_class_name')!r} pipeline, not "
                                "'AmusedPipeline': a model folder of another family")
    absent = [s for s in SUBFOLDERS if not os.path.isdir(os.path.join(model, s))]
    if absent:
        raise ImportAmusedError(f"--model: {model} lacks the subfolder(s) {', '.join(s + '/' for s in absent)}")
    need = ["transformer/config.json", "vqvae/config.json", "text_encoder/config.json",
            "scheduler/scheduler_config.json", "tokenizer/vocab.json", "tokenizer/merges.txt"]
    absent = [n for n in need if not os.path.isfile(os.path.join(model, n))]
    if absent:
        raise ImportAmusedError(f"--model: {model} lacks {', '.join(absent)}")
    return index


def weight_file(model: str, component: str, variant: str | None) -> str:
    """Path of a component's safetensors file, or a typed error: a pickle file in its place is refused."""
    folder = os.path.join(model, component)
    stem = WEIGHT_STEMS[component]
    name = f"{stem}.{variant}.safetensors" if variant else f"{stem}.safetensors"
    path = os.path.join(folder, name)
    if os.path.isfile(path):
        return path
    present = sorted(os.listdir(folder))
    pickles = [f for f in present if f.endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise PickleWeightsError(
            f"--model: {component}/ has no {name} but {', '.join(pickles)}: pickle-based weight files are never read "
            "(unpickling can run code); use the repository's safetensors files; nothing was written")
    others = [f for f in present if f.endswith(".safetensors")]
    hint = f" (it has {', '.join(others)}; " + ("drop --variant" if variant else "pass --variant fp16") + ")" \
        if others else ""
    raise ImportAmusedError(f"--model: {component}/{name} is missing{hint}")


def read_safetensors(path: str, what: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ImportAmusedError(f"{what}: {path} is not a readable safetensors file ({str(exc)[:200]})") from None


def mismatches(module: nn.Module, state: dict, skip_prefixes: tuple = (), optional: tuple = ()):
    """(missing, unexpected, misshaped, skipped count) of `state` against `module`'s state dict."""
    want = module.state_dict()
    skipped = [k for k in state if skip_prefixes and k.startswith(skip_prefixes) or k in optional]
    missing = sorted(k for k in want if k not in state)
    unexpected = sorted(k for k in state if k not in want and k not in skipped)
    misshaped = [(k, tuple(state[k].shape), tuple(want[k].shape)) for k in sorted(want)
                 if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    return missing, unexpected, misshaped, len(skipped)


def _config(cfg: dict, keys: tuple, path: str, what: str) -> dict:
    absent = [k for k in keys if k not in cfg]
    if absent:
        raise ImportAmusedError(f"{what}: {path} lacks {', '.join(absent)}")
    return cfg


def read_configs(model: str):
    """(UVitConfig, VQ params, CLIPTextConfig, mask token id) from the config files, cross-checked."""
    tpath = os.path.join(model, "transformer", "config.json")
    tcfg = _json(tpath, "--model")
    _class_of(tcfg, tpath, "UVit2DModel", "--model")
    _config(tcfg, UVIT_KEYS, tpath, "--model")
    try:
        uc = UVitConfig(**{k: type(getattr(UVitConfig, k))(tcfg[k]) for k in UVIT_KEYS})
    except (TypeError, ValueError) as exc:
        raise ImportAmusedError(f"--model: {tpath} has a value of the wrong type ({exc})") from None
    vpath = os.path.join(model, "vqvae", "config.json")
    vcfg = _json(vpath, "--model")
    _class_of(vcfg, vpath, "VQModel", "--model")
    vp = vq_params(_config(vcfg, VQ_KEYS, vpath, "--model"))
    from .text import text_config

    epath = os.path.join(model, "text_encoder", "config.json")
    ecfg = _json(epath, "--model")
    _class_of(ecfg, epath, "CLIPTextModelWithProjection", "--model")
    try:
        tc = text_config(os.path.join(model, "text_encoder"))
    except Exception as exc:  # transformers raises several types for a config it cannot read
        raise ImportAmusedError(f"--model: {epath} is not a CLIP text config ({exc})") from None
    spath = os.path.join(model, "scheduler", "scheduler_config.json")
    scfg = _json(spath, "--model")
    _class_of(scfg, spath, "AmusedScheduler", "--model")
    mask = scfg.get("mask_token_id")
    problems = []
    if not isinstance(mask, int) or not uc.codebook_size <= mask < uc.vocab_size:
        problems.append(f"scheduler mask_token_id {mask!r} is not an id in [codebook_size {uc.codebook_size}, "
                        f"vocab_size {uc.vocab_size})")
    if scfg.get("masking_schedule", "cosine") != "cosine":
        problems.append(f"scheduler masking_schedule {scfg.get('masking_schedule')!r} is not 'cosine'")
    if vp["num_vq_embeddings"] != uc.codebook_size:
        problems.append(f"vqvae num_vq_embeddings {vp['num_vq_embeddings']} != transformer codebook_size "
                        f"{uc.codebook_size}")
    if tc.hidden_size != uc.encoder_hidden_size:
        problems.append(f"text_encoder hidden_size {tc.hidden_size} != transformer encoder_hidden_size "
                        f"{uc.encoder_hidden_size}")
    if tc.projection_dim != uc.cond_embed_dim:
        problems.append(f"text_encoder projection_dim {tc.projection_dim} != transformer cond_embed_dim "
                        f"{uc.cond_embed_dim}")
    if problems:
        raise ImportAmusedError(f"--model: {model}: " + "; ".join(problems))
    return uc, vp, tc, mask


def load_models(model: str, variant: str | None = None) -> AmusedModels:
    """The published folder -> modules, strictly. Raises ImportAmusedError before anything is written."""
    index = check_layout(model)
    uc, vp, tc, mask = read_configs(model)
    files = {c: weight_file(model, c, variant) for c in WEIGHT_STEMS}
    from .text import build_text_model, load_tokenizer

    try:
        uvit, vq = UVit2D(uc), VqDecoderModel(vp)
    except ValueError as exc:
        raise ImportAmusedError(f"--model: {model}: {exc}") from None
    text = build_text_model(tc)
    try:
        tokenizer = load_tokenizer(os.path.join(model, "tokenizer"))
    except Exception as exc:  # a broken vocab.json / merges.txt
        raise ImportAmusedError(f"--model: {model}/tokenizer cannot be read by CLIPTokenizer ({exc})") from None
    if len(tokenizer) > tc.vocab_size:
        raise ImportAmusedError(f"--model: the tokenizer has {len(tokenizer)} ids, the text encoder's vocab_size is "
                                f"{tc.vocab_size}")
    plan = {"transformer": (uvit, (), ()), "vqvae": (vq, VQ_UNUSED_PREFIXES, ()),
            "text_encoder": (text, (), TEXT_OPTIONAL_KEYS)}
    states, failed, skipped = {}, {}, {}
    for comp, (mod, prefixes, optional) in plan.items():
        rel = os.path.relpath(files[comp], model)
        states[comp] = read_safetensors(files[comp], f"--model {rel}")
        missing, unexpected, misshaped, n = mismatches(mod, states[comp], prefixes, optional)
        skipped[comp] = n
        if missing or unexpected or misshaped:
            failed[f"{rel}"] = (missing, unexpected, misshaped)
    if failed:
        raise WeightsMismatchError(failed)
    for comp, (mod, _, _) in plan.items():
        want = mod.state_dict()
        mod.load_state_dict({k: states[comp][k].to(torch.float32) for k in want}, strict=True)
        mod.eval()
    random = index.get("_migm_random_weights")
    return AmusedModels(uvit, vq, text, tokenizer, mask, skipped,
                        {c: os.path.relpath(p, model) for c, p in files.items()},
                        random if isinstance(random, dict) else None)
