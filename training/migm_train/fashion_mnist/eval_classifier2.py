"""The bench's second evaluator: an MLP trained independently of the bundle's CNN classifier (classifier.py).

The bench scores every setting in the feature space of two classifiers and calls a quality target MET only
where both agree. This one differs from the first in every way that is cheap to vary: architecture (two fully
connected layers, no convolution, so no built-in translation structure), seed (7, not 0), epochs, optimiser
schedule and dropout. Its 128 penultimate ReLU features play the role of the CNN's 128.

    cd training && .venv/bin/python -m migm_train.fashion_mnist.eval_classifier2 --out ../packages/bench/evaluators

writes mlp-s7.onnx (graph as the bundle's classifier: pixels [batch, 1, 28, 28] in [0, 1] -> logits [batch, 10],
features [batch, 128]) and mlp-s7.json (what it is, its test accuracy, sha256). About a minute on 2 cores.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from . import data
from .classifier import fit_cross_entropy
from .evaluator_files import accuracy, export, export_with_sha, main as evaluator_main, write_card

MODULE = "migm_train.fashion_mnist.eval_classifier2"  # the command that makes it: python -m MODULE
NAME = "mlp-s7"
SEED = 7
FEATURE_DIM = 128


class MlpClassifier(nn.Module):
    def __init__(self, num_classes: int = 10, hidden: int = 512, feature_dim: int = FEATURE_DIM):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(28 * 28, hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, feature_dim), nn.ReLU(),
        )
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(feature_dim, num_classes)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.body(pixels)
        return self.fc(self.drop(feats)), feats


def train(images: np.ndarray, labels: np.ndarray, epochs: int = 12, batch: int = 256, lr: float = 1e-3,
          seed: int = SEED, hidden: int = 512, log=print) -> MlpClassifier:
    """uint8 images [n, 28, 28] and labels [n] -> a trained MlpClassifier in eval mode."""
    torch.manual_seed(seed)
    model = MlpClassifier(hidden=hidden)
    x = torch.from_numpy(data.to_float(images))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    steps_per_epoch = max(1, len(x) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    return fit_cross_entropy(model, x, y, opt, sched, epochs, batch, seed,
                             on_epoch=lambda ep, mean: log(f"{NAME} epoch {ep + 1}/{epochs} loss {mean:.4f}"))


@torch.no_grad()
def build(out_dir: str, epochs: int = 12, directory: str | None = None, log=print) -> dict:
    """Trains on the 60k training images, exports <out_dir>/mlp-s7.onnx and writes mlp-s7.json; returns the json."""
    ds = data.load(directory)
    t0 = time.time()
    model = train(ds.train_images, ds.train_labels, epochs=epochs, log=log)
    acc = accuracy(model, ds.test_images, ds.test_labels)
    onnx_path, sha = export_with_sha(model, out_dir, NAME)
    meta = {
        "name": NAME,
        "file": f"{NAME}.onnx",
        "sha256": sha,
        "architecture": "MLP 784 -> 512 -> 128 (features, ReLU) -> 10, dropout 0.2; no convolution",
        "parameters": sum(p.numel() for p in model.parameters()),
        "featureDim": FEATURE_DIM,
        "seed": SEED,
        "epochs": epochs,
        "optimizer": "AdamW lr 1e-3, weight decay 1e-4, cosine schedule, batch 256",
        "data": "Fashion-MNIST (Debian dataset-fashion-mnist), 60k train",
        "testAccuracy": round(acc, 4),
    }
    meta = write_card(out_dir, NAME, MODULE, meta)
    log(f"{NAME}: test accuracy {acc:.4f}, {meta['parameters']} parameters, {time.time() - t0:.0f} s -> {onnx_path}")
    return meta


def main(argv: list[str] | None = None) -> int:
    return evaluator_main(MODULE, __doc__.split("\n")[0], NAME, 12, build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
