"""`import-amused`: a model folder in the published layout -> a migm bundle (family "amused").

Graphs (opset 17, dynamic batch, int32 integer inputs): textEncoder (CLIP ids -> penultimate hidden states +
projected pooled embedding), base (tokens + text states + pooled + micro-conditions -> logits + the feature
entering mlm_layer), head (mlm_layer per position), decoder (tokens -> RGB in [0, 1]). A graph whose weights
exceed `chunk_mb` keeps them in ONNX external-data files of at most that size (graphs.<role>.externalData), so
that no file reaches protobuf's 2 GiB limit or Chromium's 256 MB cache-entry limit. Everything is written into
a temporary folder beside --out and renamed into place at the end: on any failure nothing is left at --out.
"""
from __future__ import annotations

import copy
import os
import shutil
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

from .. import export, layers
from .. import manifest as man
from ..vq_decoder import DecoderGraph
from ..export import store_fp16
from ..staging import check_out, staged
from .errors import ImportAmusedError
from .folder import AmusedModels
from .sampling import AESTHETIC_SCORE, GUIDANCE, STEPS
from .text import MAX_LENGTH, TextEncoderGraph
from .uvit import BaseGraph, HeadGraph, count_parameters

# AmusedPipeline's defaults in migm's terms: N = 12 on the cosine-floor counts; guidance u + 10 (c - u) is
# (1 + w) c - w u with w = 9, constant; multinomial at temperature 1; confidence noise linspace(2, 0, N)[i], which
# is r_temp (1 - i / (N - 1)) with r_temp 2; a budget of 4 full steps for accelerated methods.
SAMPLING = {"steps": STEPS, "schedule": "cosine-floor", "guidance": {"scale": GUIDANCE - 1.0, "schedule": "constant"},
            "inverseTemperature": 1.0, "randomizeTemperature": 2.0, "budget": 4}
MICRO_NAMES = ["width", "height", "cropX", "cropY", "aestheticScore"]
EXAMPLE_PROMPTS = ["a photo of a red fox in the snow", "a watercolor painting of a lighthouse at dawn",
                   "a bowl of ramen, studio lighting", "an astronaut riding a horse on the moon"]
CHUNK_MB = 192  # external-data file size limit (MiB): below Chromium's 256 MB cache entries
FP16_ROLES = ("textEncoder", "base", "head", "decoder")


def dims(models: AmusedModels) -> dict:
    uc = models.uvit.cfg
    grid = uc.sample_size
    image = grid * models.vq.factor
    tc = models.text.config
    return {"grid": grid, "L": grid * grid, "K": uc.codebook_size, "C": uc.block_out_channels, "E": tc.hidden_size,
            "P": tc.projection_dim, "image": image, "M": len(MICRO_NAMES)}


def graph_specs(d: dict) -> dict:
    t = lambda name, dtype, shape: {"name": name, "dtype": dtype, "shape": shape}  # noqa: E731
    L, K, C = d["L"], d["K"], d["C"]
    text = t("textStates", "float32", ["batch", MAX_LENGTH, d["E"]])
    pooled = t("pooled", "float32", ["batch", d["P"]])
    return {
        "textEncoder": ({"inputIds": t("inputIds", "int32", ["batch", MAX_LENGTH])},
                        {"textStates": text, "pooled": pooled}),
        "base": ({"tokens": t("tokens", "int32", ["batch", L]), "textStates": text, "pooled": pooled,
                  "microConds": t("microConds", "float32", ["batch", d["M"]])},
                 {"logits": t("logits", "float32", ["batch", L, K]), "feature": t("feature", "float32", ["batch", L, C])}),
        "head": ({"feature": t("feature", "float32", ["batch", L, C])},
                 {"logits": t("logits", "float32", ["batch", L, K])}),
        "decoder": ({"tokens": t("tokens", "int32", ["batch", L])},
                    {"pixels": t("pixels", "float32", ["batch", 3, d["image"], d["image"]])}),
    }


def micro_default(d: dict) -> list[float]:
    return [float(d["image"]), float(d["image"]), 0.0, 0.0, AESTHETIC_SCORE]


def example_inputs(role: str, d: dict, batch: int, seed: int, vocab: int = 49408) -> dict:
    """Random valid inputs (CLIP-like ids with start, end and padding; half-masked tokens)."""
    rng = np.random.default_rng(seed)
    L, K = d["L"], d["K"]
    if role == "textEncoder":
        ids = np.full((batch, MAX_LENGTH), vocab - 1, dtype=np.int32)
        for r in range(batch):
            n = int(rng.integers(0, MAX_LENGTH - 1))
            ids[r, 0] = vocab - 2
            ids[r, 1:1 + n] = rng.integers(0, vocab - 2, size=n)
        return {"inputIds": ids}
    if role == "base":
        tokens = rng.integers(0, K, size=(batch, L))
        tokens[rng.random((batch, L)) < 0.5] = K
        micro = np.tile(np.array(micro_default(d), dtype=np.float32), (batch, 1))
        micro[-1, 4] = 5.0  # another aesthetic score on one row
        return {"tokens": tokens.astype(np.int32),
                "textStates": rng.standard_normal((batch, MAX_LENGTH, d["E"])).astype(np.float32),
                "pooled": rng.standard_normal((batch, d["P"])).astype(np.float32), "microConds": micro}
    if role == "head":
        return {"feature": rng.standard_normal((batch, L, d["C"])).astype(np.float32)}
    if role == "decoder":
        return {"tokens": rng.integers(0, K, size=(batch, L)).astype(np.int32)}
    raise KeyError(role)


def graph_modules(models: AmusedModels) -> dict:
    g = models.uvit.cfg.sample_size
    mods = {"textEncoder": TextEncoderGraph(models.text), "base": BaseGraph(models.uvit, (g, g)),
            "head": HeadGraph(models.uvit), "decoder": DecoderGraph(models.vq, (g, g))}
    return {k: m.eval() for k, m in mods.items()}


def parameters(models: AmusedModels) -> dict:
    mlm = models.uvit.mlm_layer
    return {"textEncoder": count_parameters(models.text), "base": count_parameters(models.uvit),
            "head": count_parameters(mlm), "decoder": count_parameters(models.vq)}


def _chunk_external(path: str, role: str, chunk_bytes: int) -> list[str]:
    """Rewrites the ONNX file at `path` (and any external data the exporter wrote beside it) so that every
    initializer is inline when they all fit in `chunk_bytes`, else in files `<role>.onnx.NN.data` of at most
    `chunk_bytes` each (one tensor larger than that gets a file of its own). Returns the data files' names."""
    import onnx
    from onnx.external_data_helper import set_external_data

    folder = os.path.dirname(path)  # export_graph's own work folder: only the exporter's output is there
    model = onnx.load(path, load_external_data=True)
    inits = [t for t in model.graph.initializer if t.HasField("raw_data")]
    total = sum(len(t.raw_data) for t in inits)
    scratch = tempfile.mkdtemp(prefix=".onnx-", dir=folder)
    try:
        names: list[str] = []
        if total > chunk_bytes:
            size = chunk_bytes + 1
            for t in inits:
                n = len(t.raw_data)
                if n < 1024:
                    continue  # small tensors (shapes, scalars) stay inline
                if size + n > chunk_bytes:
                    names.append(f"{role}.onnx.{len(names):02d}.data")
                    size = 0
                set_external_data(t, location=names[-1])
                t.data_location = onnx.TensorProto.EXTERNAL
                size += n
        onnx.save_model(model, os.path.join(scratch, os.path.basename(path)))
        del model
        for f in os.listdir(folder):  # the exported file and any external-data files the exporter wrote
            if os.path.join(folder, f) != scratch:
                os.remove(os.path.join(folder, f))
        for f in [os.path.basename(path), *names]:
            os.replace(os.path.join(scratch, f), os.path.join(folder, f))
        return names
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def export_graph(role: str, module: nn.Module, d: dict, spec: tuple, folder: str, dtype: str, chunk_bytes: int) -> list[str]:
    """Exports one graph as `<role>.onnx` in `folder`; returns its external-data file names (maybe none)."""
    work = tempfile.mkdtemp(prefix=f".{role}-", dir=folder)
    try:
        if dtype == "fp16":
            module = store_fp16(copy.deepcopy(module))
        fused = layers.FUSED_ATTENTION_EXPORT and role == "base"
        path = os.path.join(work, f"{role}.onnx")
        with warnings.catch_warnings():
            # tracing notes about values that are constant by construction here (transformers' causal mask, the
            # pooled position's gather, norm sizes), and torch's note that it cannot fold strided slices
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
            warnings.filterwarnings("ignore", message="Exporting aten::index operator")
            export.export_module(module, example_inputs(role, d, 2, 0), spec, path, fused, fold=dtype == "fp32")
        names = _chunk_external(path, role, chunk_bytes)
        for f in [f"{role}.onnx", *names]:
            os.replace(os.path.join(work, f), os.path.join(folder, f))
        return names
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_tokenizer_json(tokenizer, path: str) -> None:
    """The fast tokenizer's JSON, with CLIP's padding and truncation to 77 ids switched on."""
    backend = copy.deepcopy(tokenizer.backend_tokenizer)
    backend.enable_truncation(MAX_LENGTH)
    backend.enable_padding(length=MAX_LENGTH, pad_id=tokenizer.pad_token_id, pad_token=tokenizer.pad_token)
    backend.save(path)


def write_bundle(models: AmusedModels, out: str, *, dtype: str = "fp32", name: str, description: str,
                 license: str, provenance: dict, chunk_mb: float = CHUNK_MB, log=print) -> dict:
    check_out(out, ImportAmusedError)
    d = dims(models)
    specs = graph_specs(d)
    mods = graph_modules(models)
    params = parameters(models)
    chunk_bytes = int(chunk_mb * (1 << 20))
    # onnx writes external data, and mkdtemp the folder, private to the owner: public_files
    with staged(out, ".import-amused-", public_files=True) as tmp:
        write_tokenizer_json(models.tokenizer, os.path.join(tmp, "tokenizer.json"))
        files, external = {}, {}
        for role, mod in mods.items():
            log(f"import-amused: exporting {role} ({params[role]:,} parameters, {dtype})")
            external[role] = export_graph(role, mod, d, specs[role], tmp, dtype, chunk_bytes)
            files[role] = f"{role}.onnx"
        rels = ["tokenizer.json"] + [f for role in mods for f in [files[role], *external[role]]]
        entries = [man.file_entry(tmp, f) for f in rels]
        graphs = {}
        for role in mods:
            ins, outs = specs[role]
            g = {"file": files[role], "opset": export.OPSET, "parameters": params[role], "inputs": ins, "outputs": outs}
            if external[role]:
                g["externalData"] = external[role]
            graphs[role] = g
        tok = models.tokenizer
        manifest = {
            "schemaVersion": 1, "name": name, "version": "1.0.0", "description": description, "license": license,
            "family": "amused",
            "image": {"width": d["image"], "height": d["image"], "channels": 3, "range": [0, 1]},
            "tokens": {"grid": [d["grid"], d["grid"]], "count": d["L"], "codebookSize": d["K"], "maskId": d["K"],
                       "patchSize": models.vq.factor},
            "condition": {"type": "text", "maxLength": MAX_LENGTH,
                          "tokenizer": {"file": "tokenizer.json", "kind": "clip-bpe", "bosId": tok.bos_token_id,
                                        "eosId": tok.eos_token_id, "padId": tok.pad_token_id},
                          "negativePrompt": "",
                          "microConditioning": {"names": MICRO_NAMES, "default": micro_default(d)},
                          "examplePrompts": EXAMPLE_PROMPTS},
            "featureDim": d["C"],
            "sampling": dict(SAMPLING, steps=min(SAMPLING["steps"], d["L"]), budget=min(SAMPLING["budget"], d["L"])),
            "graphs": graphs, "files": entries,
            "training": dict(provenance, dtype=dtype, maskTokenId=models.mask_token_id,
                             weightKeysNotUsed=models.skipped,
                             architecture={"transformer": models.uvit.cfg.to_json(), "vqvae": models.vq.params,
                                           "textEncoder": models.text.config.to_dict()}),
        }
        man.write(manifest, tmp)
    return manifest
