"""What the bench's shipped evaluators share: the graph interface (pixels -> logits, features), the class
accuracy of that interface, the ONNX file with its sha256 card, and the command line that makes them."""

from __future__ import annotations

import argparse
import hashlib
import json
import os

import numpy as np
import torch

from ..export import TORCHSCRIPT_EXPORTER
from . import data


def accuracy(model: torch.nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    """Share of images whose arg-max logit is their label (the model returns logits, features)."""
    logits, _ = model(torch.from_numpy(data.to_float(images)))
    return float((logits.argmax(1).numpy() == np.asarray(labels)).mean())


def export(model: torch.nn.Module, path: str) -> None:
    """ONNX (opset 17) with the bundle classifier's names: pixels -> logits, features; dynamic batch."""
    example = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    torch.onnx.export(model, (example,), path, input_names=["pixels"], output_names=["logits", "features"],
                      dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}, "features": {0: "batch"}},
                      opset_version=17, do_constant_folding=True, **TORCHSCRIPT_EXPORTER)


def export_with_sha(model: torch.nn.Module, out_dir: str, name: str) -> tuple[str, str]:
    """Exports <out_dir>/<name>.onnx; returns its path and sha256 (the card records it, the bench checks it)."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.onnx")
    export(model, path)
    with open(path, "rb") as fh:
        return path, hashlib.sha256(fh.read()).hexdigest()


def write_card(out_dir: str, name: str, module: str, card: dict) -> dict:
    """<out_dir>/<name>.json: how the evaluator was made and what it scored, ending with the command that made it
    (`module` run with --out) and the torch version; returns the card as written."""
    card = dict(card, trainedBy=f"cd training && .venv/bin/python -m {module} --out ../packages/bench/evaluators",
                torch=torch.__version__)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as fh:
        json.dump(card, fh, indent=2)
        fh.write("\n")
    return card


def main(prog: str, description: str, name: str, default_epochs: int, build, argv: list[str] | None = None) -> int:
    """The command line of an evaluator module: --out FOLDER [--epochs N], then build(out, epochs=N)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--out", required=True, help=f"folder for {name}.onnx and {name}.json")
    p.add_argument("--epochs", type=int, default=default_epochs)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    build(a.out, epochs=a.epochs)
    return 0
