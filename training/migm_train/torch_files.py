"""Reading the toolkit's own torch files (a work dir's stage outputs) without unpickling arbitrary objects."""

from __future__ import annotations

import numpy as np
import torch

# A stage output holds tensors, plain containers and, in a few, numpy arrays (the classifier's feature
# statistics). These are the only non-tensor globals such a file may name; anything else is refused by
# torch's weights-only unpickler, so a planted work-dir file cannot run code either.
_NUMPY_GLOBALS = [
    np.ndarray,
    np.dtype,
    getattr(np, "_core", np).multiarray._reconstruct,
    getattr(np, "_core", np).multiarray.scalar,  # numpy scalars (np.float64(...)) in metrics
    *{type(np.dtype(t)) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")},
]


def load_own(path: str):
    """Loads a torch file written by this toolkit, tensors and numpy arrays only (weights_only)."""
    with torch.serialization.safe_globals(_NUMPY_GLOBALS):
        return torch.load(path, map_location="cpu", weights_only=True)
