"""ONNX export (opset 17, dynamic batch, int32 integer inputs) and PyTorch parity fixtures."""
from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn

from . import layers
from .base_model import BaseExport, BaseModel, HeadExport
from .classifier import Classifier
from .shortcut import Shortcut
from .tokenizer import Decoder

OPSET = 17
# torch.onnx.export(..., **TORCHSCRIPT_EXPORTER): the TorchScript exporter, which honours autograd Functions'
# symbolic() (the fused com.microsoft attention), exports opset 17 as asked and takes dynamic_axes; torch >= 2.9
# defaults to the dynamo exporter, which does none of these.
TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
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


def run_torch(module: nn.Module, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(v) for v in inputs.values()])
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy().astype(np.float32) for o in out]


def export_graph(role: str, module: nn.Module, spec: tuple, base: BaseModel, path: str) -> None:
    export_module(module, example_inputs(role, base, 2, 5, seed=0), spec, path,
                  layers.FUSED_ATTENTION_EXPORT and role in ATTENTION_ROLES)


def export_module(module: nn.Module, example: dict, spec: tuple, path: str, fused: bool, fold: bool = True) -> None:
    """torch.onnx.export with the spec's names and its symbolic dims as dynamic axes. `fold=False` keeps
    computations on initializers in the graph (the fp16-stored weights' Cast nodes)."""
    ins, outs = spec
    dyn = {}
    for tensor in list(ins.values()) + list(outs.values()):
        axes = {i: d for i, d in enumerate(tensor["shape"]) if isinstance(d, str)}
        if axes:
            dyn[tensor["name"]] = axes
    with warnings.catch_warnings():  # torch has no shape inference for the contrib op; onnxruntime does
        warnings.filterwarnings("ignore", message="The shape inference of com.microsoft::MultiHeadAttention")
        # torch 1.13 flags g.op() in symbolic functions as deprecated; it is still how custom ops export there
        warnings.filterwarnings("ignore", message="'torch.onnx._patch_torch._graph_op' is deprecated")
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant type is missing")
        # a strided Slice (step != 1) stays a node instead of a folded constant; onnxruntime optimises it at load
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded")
        with _without_native_lines(BENIGN_NATIVE_WARNINGS):
            _export(module, example, path, ins, outs, dyn, fused, fold)


# torch 2's exporter writes some warnings from C++ straight to stderr ("[W... shape_type_inference.cpp] Warning:
# The shape inference of com.microsoft::MultiHeadAttention type is missing ..."), past Python's warnings filters.
BENIGN_NATIVE_WARNINGS = ("The shape inference of com.microsoft::MultiHeadAttention type is missing",
                          "The shape inference of prim::Constant type is missing")


@contextlib.contextmanager
def _without_native_lines(benign: tuple[str, ...]):
    """Captures file descriptor 2 while the block runs and passes every line on afterwards except those that
    contain one of `benign`: the importers print one line per graph, not torch's notes on ops onnxruntime handles."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not any(b in line for b in benign):
                    sys.stderr.write(line)
            sys.stderr.flush()


def _export(module: nn.Module, example: dict, path: str, ins: dict, outs: dict, dyn: dict, fused: bool,
            fold: bool = True) -> None:
    torch.onnx.export(module, tuple(torch.from_numpy(v) for v in example.values()), path, **TORCHSCRIPT_EXPORTER,
                      input_names=[t["name"] for t in ins.values()],
                      output_names=[t["name"] for t in outs.values()],
                      dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=fold,
                      # layers._FusedAttention's op domain, declared only in the graphs that run attention
                      # (torch warns about a declared domain that no node uses)
                      custom_opsets={"com.microsoft": 1} if fused else None)


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
