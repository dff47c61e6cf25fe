"""Fashion-MNIST from the Debian package dataset-fashion-mnist (idx files, gzip)."""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np

from ..env import SetupError

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


@dataclass
class FashionMnist:
    train_images: np.ndarray  # [60000, 28, 28] uint8
    train_labels: np.ndarray  # [60000] int64
    test_images: np.ndarray   # [10000, 28, 28] uint8
    test_labels: np.ndarray   # [10000] int64


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    if (magic >> 8) != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def data_dir() -> str:
    return os.environ.get("MIGM_FASHION_MNIST_DIR", DEFAULT_DIR)


def load(directory: str | None = None) -> FashionMnist:
    directory = directory or data_dir()
    missing = [f for f in FILES.values() if not os.path.isfile(os.path.join(directory, f))]
    if missing:
        raise SetupError(
            f"Fashion-MNIST not found in {directory} (missing {', '.join(missing)}). Install it with\n"
            "  sudo apt-get install dataset-fashion-mnist\n"
            "or point MIGM_FASHION_MNIST_DIR at a folder holding the four idx .gz files."
        )
    arr = {k: _read_idx(os.path.join(directory, f)) for k, f in FILES.items()}
    return FashionMnist(arr["train_images"], arr["train_labels"].astype(np.int64),
                        arr["test_images"], arr["test_labels"].astype(np.int64))


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 [n, 28, 28] -> float32 [n, 1, 28, 28] in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[:, None, :, :]
