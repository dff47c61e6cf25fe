"""ONNX export shared by every family (opset 17, dynamic batch, int32 integer inputs): export_module, run_torch.

Each family's graph specs, example inputs and parity fixtures live in its folder (fashion_mnist/export.py,
maskgit512/importer.py, amused/importer.py)."""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
import tempfile
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize


OPSET = 17
# torch.onnx.export(..., **TORCHSCRIPT_EXPORTER): the TorchScript exporter, which honours autograd Functions'
# symbolic() (the fused com.microsoft attention), exports opset 17 as asked and takes dynamic_axes; torch >= 2.9
# defaults to the dynamo exporter, which does none of these.
TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def run_torch(module: nn.Module, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*[torch.from_numpy(v) for v in inputs.values()])
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy().astype(np.float32) for o in out]


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


class _StoredFp16(nn.Module):
    """Parametrization: the weight is stored as float16 and cast to float32 where it is used."""

    def forward(self, x):
        return x.float()


def store_fp16(module: nn.Module) -> nn.Module:
    """Every parameter of `module` (in place) becomes a float16 initializer with a Cast in the graph."""
    for sub in list(module.modules()):
        for name, _ in list(sub.named_parameters(recurse=False)):
            parametrize.register_parametrization(sub, name, _StoredFp16(), unsafe=True)
            original = sub.parametrizations[name].original
            original.data = original.data.half()
    return module
