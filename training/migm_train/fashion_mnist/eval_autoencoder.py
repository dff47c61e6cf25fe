"""The bench's third evaluator: the latent space of an autoencoder trained without labels.

The bench's first two evaluators (the bundle's CNN, classifier.py; the MLP, eval_classifier2.py) are both
classifiers trained with cross-entropy on the Fashion-MNIST labels, so their features keep what separates the
ten classes and drop the rest; an outside evaluator of the same kind ranked the sampling methods differently
(issue 30). This one is of another kind: a convolutional autoencoder trained only to reconstruct the 60k
training images (binary cross-entropy on pixels, no label seen), whose 64-dimensional linear bottleneck is the
feature space. Its FD weighs everything a reconstruction needs (shape, texture, contrast, position), not only
what tells the classes apart.

The bench also reports class accuracy per evaluator; for this one the graph's `logits` are a nearest-centroid
read-out (minus the squared distance to each class's mean training latent). The labels enter only there, after
training, to give the column a value; they do not shape the features.

    cd training && .venv/bin/python -m migm_train.fashion_mnist.eval_autoencoder --out ../packages/bench/evaluators

writes ae-s11.onnx (the encoder and the read-out, with the bundle classifier's interface: pixels
[batch, 1, 28, 28] in [0, 1] -> logits [batch, 10], features [batch, 64]) and ae-s11.json (what it is, its
reconstruction error and read-out accuracy on the test set, sha256). A few minutes on 2 cores.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from . import data
from .evaluator_files import accuracy, export, export_with_sha, main as evaluator_main, write_card

MODULE = "migm_train.fashion_mnist.eval_autoencoder"  # the command that makes it: python -m MODULE
NAME = "ae-s11"
SEED = 11
FEATURE_DIM = 64
NUM_CLASSES = 10
WIDTH = 16  # channels of the first conv (the second has twice as many)


class Encoder(nn.Module):
    """28 x 28 -> 14 x 14 x 16 -> 7 x 7 x 32 -> a linear 64-d latent (no activation: the FD's Gaussian fits it)."""

    def __init__(self, width: int = WIDTH, latent: int = FEATURE_DIM):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.fc = nn.Linear(2 * width * 7 * 7, latent)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(pixels))


class Decoder(nn.Module):
    def __init__(self, width: int = WIDTH, latent: int = FEATURE_DIM):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(latent, 2 * width * 7 * 7)
        self.deconv = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits [batch, 1, 28, 28] (sigmoid gives the image)."""
        return self.deconv(self.fc(z).view(-1, 2 * self.width, 7, 7))


class Autoencoder(nn.Module):
    def __init__(self, width: int = WIDTH, latent: int = FEATURE_DIM):
        super().__init__()
        self.encoder = Encoder(width, latent)
        self.decoder = Decoder(width, latent)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(pixels))


class EvaluatorGraph(nn.Module):
    """What the bench loads: the encoder, and a nearest-centroid read-out as logits (-||z - mu_c||^2)."""

    def __init__(self, encoder: Encoder, centroids: torch.Tensor):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("centroids", centroids.clone())  # [classes, latent]

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(pixels)
        d = (z * z).sum(1, keepdim=True) - 2 * z @ self.centroids.t() + (self.centroids * self.centroids).sum(1)[None, :]
        return -d, z


def train(images: np.ndarray, epochs: int = 6, batch: int = 128, lr: float = 2e-3, seed: int = SEED,
          width: int = WIDTH, latent: int = FEATURE_DIM, log=print) -> Autoencoder:
    """uint8 images [n, 28, 28] (no labels) -> a trained Autoencoder in eval mode."""
    torch.manual_seed(seed)
    model = Autoencoder(width, latent)
    x = torch.from_numpy(data.to_float(images))
    steps_per_epoch = max(1, len(x) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for s in range(steps_per_epoch):
            xb = x[perm[s * batch:(s + 1) * batch]]
            loss = nn.functional.binary_cross_entropy_with_logits(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log(f"{NAME} epoch {ep + 1}/{epochs} reconstruction BCE {total / steps_per_epoch:.4f}")
    model.eval()
    return model


@torch.no_grad()
def encode(encoder: Encoder, images: np.ndarray, chunk: int = 2000) -> torch.Tensor:
    x = torch.from_numpy(data.to_float(images))
    return torch.cat([encoder(x[i:i + chunk]) for i in range(0, len(x), chunk)])


@torch.no_grad()
def centroids(encoder: Encoder, images: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Each class's mean latent over the given (training) images: the read-out, fitted after training."""
    z = encode(encoder, images)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return torch.stack([z[y == c].mean(0) for c in range(num_classes)])


@torch.no_grad()
def reconstruction_mse(model: Autoencoder, images: np.ndarray) -> float:
    x = torch.from_numpy(data.to_float(images))
    return float(torch.mean((torch.sigmoid(model(x)) - x) ** 2))


@torch.no_grad()
def readout_accuracy(graph: EvaluatorGraph, images: np.ndarray, labels: np.ndarray) -> float:
    """The nearest-centroid read-out's class accuracy."""
    return accuracy(graph, images, labels)


def build(out_dir: str, epochs: int = 6, directory: str | None = None, log=print) -> dict:
    """Trains on the 60k training images (no labels), fits the read-out, exports <out_dir>/ae-s11.onnx and .json."""
    ds = data.load(directory)
    t0 = time.time()
    model = train(ds.train_images, epochs=epochs, log=log)
    graph = EvaluatorGraph(model.encoder, centroids(model.encoder, ds.train_images, ds.train_labels)).eval()
    acc = readout_accuracy(graph, ds.test_images, ds.test_labels)
    mse = reconstruction_mse(model, ds.test_images)
    onnx_path, sha = export_with_sha(graph, out_dir, NAME)
    meta = {
        "name": NAME,
        "label": "AE",
        "file": f"{NAME}.onnx",
        "sha256": sha,
        "architecture": ("convolutional autoencoder, encoder conv 4x4/2 (16) -> conv 4x4/2 (32) -> linear 64 "
                         "(features, no activation), decoder mirrored; trained on pixels only, no labels"),
        "parameters": sum(p.numel() for p in graph.encoder.parameters()),
        "decoderParameters": sum(p.numel() for p in model.decoder.parameters()),
        "featureDim": FEATURE_DIM,
        "seed": SEED,
        "epochs": epochs,
        "objective": "binary cross-entropy of the reconstructed pixels (unsupervised)",
        "optimizer": "AdamW lr 2e-3, weight decay 1e-5, cosine schedule, batch 128",
        "data": "Fashion-MNIST (Debian dataset-fashion-mnist), 60k train images (labels unused in training)",
        "readout": "logits = -squared distance to each class's mean training latent (fitted after training); "
                   "testAccuracy is this read-out's",
        "testAccuracy": round(acc, 4),
        "testReconstructionMse": round(mse, 5),
    }
    meta = write_card(out_dir, NAME, MODULE, meta)
    log(f"{NAME}: read-out test accuracy {acc:.4f}, reconstruction MSE {mse:.5f}, {time.time() - t0:.0f} s -> {onnx_path}")
    return meta


def main(argv: list[str] | None = None) -> int:
    return evaluator_main(MODULE, __doc__.split("\n")[0], NAME, 6, build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
