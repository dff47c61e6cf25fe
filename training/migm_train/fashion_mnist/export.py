"""The Fashion-MNIST bundle's graphs: their specs, example inputs, export and PyTorch parity fixtures."""
from __future__ import annotations

import json
import os

import numpy as np
from torch import nn

from .. import layers
from .classifier import Classifier
from ..export import OPSET, export_module, run_torch  # noqa: F401  (OPSET: the manifest's opset)
from .base_model import BaseExport, BaseModel, HeadExport
from .shortcut import Shortcut
from .tokenizer import Decoder

ATTENTION_ROLES = ("base", "shortcut")  # graphs with layers.Attention in their forward pass


class _ClassifierExport(nn.Module):
    def __init__(self, clf: Classifier):
        super().__init__()
        self.clf = clf

    def forward(self, pixels):
        return self.clf(pixels)


def graph_specs(base: BaseModel, feature_dim_clf: int) -> dict:
    """Role -> (input specs, output specs); names double as ONNX names. Shapes use symbolic dims."""
    c = base.cfg
    L, K, D = c.length, c.codebook, c.dim
    t = lambda name, dtype, shape: {"name": name, "dtype": dtype, "shape": shape}  # noqa: E731
    return {
        "base": ({"tokens": t("tokens", "int32", ["batch", L]), "classes": t("classes", "int32", ["batch"])},
                 {"logits": t("logits", "float32", ["batch", L, K]),
                  "feature": t("feature", "float32", ["batch", L, D])}),
        "head": ({"feature": t("feature", "float32", ["batch", L, D])},
                 {"logits": t("logits", "float32", ["batch", L, K])}),
        "decoder": ({"tokens": t("tokens", "int32", ["batch", L])},
                    {"pixels": t("pixels", "float32", ["batch", 1, 28, 28])}),
        "shortcut": ({"feature": t("feature", "float32", ["batch", L, D]),
                      "newTokens": t("newTokens", "int32", ["batch", "n"]),
                      "newPositions": t("newPositions", "int32", ["batch", "n"]),
                      "ratio": t("ratio", "float32", ["batch"])},
                     {"velocity": t("velocity", "float32", ["batch", L, D])}),
        "classifier": ({"pixels": t("pixels", "float32", ["batch", 1, 28, 28])},
                       {"logits": t("logits", "float32", ["batch", 10]),
                        "features": t("features", "float32", ["batch", feature_dim_clf])}),
    }


def example_inputs(role: str, base: BaseModel, batch: int, n_new: int, seed: int) -> dict[str, np.ndarray]:
    """Random valid inputs for a graph (mask ids and null classes included)."""
    c = base.cfg
    rng = np.random.default_rng(seed)
    if role == "base":
        tokens = rng.integers(0, c.codebook, size=(batch, c.length))
        tokens[rng.random((batch, c.length)) < 0.5] = c.mask_id
        return {"tokens": tokens.astype(np.int32),
                "classes": np.array([i % (c.num_classes + 1) if i % 2 == 0 else c.null_class
                                     for i in range(batch)], dtype=np.int32)}
    if role == "head":
        return {"feature": rng.standard_normal((batch, c.length, c.dim)).astype(np.float32)}
    if role == "decoder":
        return {"tokens": rng.integers(0, c.codebook, size=(batch, c.length)).astype(np.int32)}
    if role == "shortcut":
        pos = np.stack([rng.permutation(c.length)[:n_new] for _ in range(batch)])
        return {"feature": rng.standard_normal((batch, c.length, c.dim)).astype(np.float32),
                "newTokens": rng.integers(0, c.codebook, size=(batch, n_new)).astype(np.int32),
                "newPositions": pos.astype(np.int32),
                "ratio": rng.uniform(0, 1, size=(batch,)).astype(np.float32)}
    if role == "classifier":
        return {"pixels": rng.uniform(0, 1, size=(batch, 1, 28, 28)).astype(np.float32)}
    raise KeyError(role)


def modules(base: BaseModel, decoder: Decoder, shortcut: Shortcut | None, clf: Classifier | None) -> dict:
    mods = {"base": BaseExport(base), "head": HeadExport(base), "decoder": decoder}
    if shortcut is not None:
        mods["shortcut"] = shortcut
    if clf is not None:
        mods["classifier"] = _ClassifierExport(clf)
    return {k: m.eval() for k, m in mods.items()}


def export_graph(role: str, module: nn.Module, spec: tuple, base: BaseModel, path: str) -> None:
    export_module(module, example_inputs(role, base, 2, 5, seed=0), spec, path,
                  layers.FUSED_ATTENTION_EXPORT and role in ATTENTION_ROLES)


def write_fixture(directory: str, role: str, module: nn.Module, spec: tuple, base: BaseModel, seed: int) -> None:
    """Compact parity fixture: <role>.bin (inputs then outputs, raw little-endian) + <role>.json index."""
    os.makedirs(directory, exist_ok=True)
    inputs = example_inputs(role, base, 2, 7, seed)
    outputs = run_torch(module, inputs)
    index, blobs, offset = {"inputs": [], "outputs": []}, [], 0
    for kind, arrays in (("inputs", list(zip(spec[0].values(), inputs.values()))),
                         ("outputs", list(zip(spec[1].values(), outputs)))):
        for tensor, arr in arrays:
            raw = np.ascontiguousarray(arr).astype("<" + arr.dtype.str[1:]).tobytes()
            index[kind].append({"name": tensor["name"], "dtype": str(arr.dtype), "dims": list(arr.shape),
                                "offset": offset, "bytes": len(raw)})
            blobs.append(raw)
            offset += len(raw)
    with open(os.path.join(directory, f"{role}.bin"), "wb") as fh:
        fh.write(b"".join(blobs))
    with open(os.path.join(directory, f"{role}.json"), "w") as fh:
        json.dump(index, fh, indent=1)
