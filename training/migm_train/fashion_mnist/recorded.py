"""Reads trajectories recorded by the TypeScript runtime (`migm record`, @migm/shortcut's TrajectoryRecorder).

Format: docs/trajectory-format.md. The result has the layout of trajectories.generate(), so the shortcut
trainer (shortcut_train.train, trajectories.pairs_at_step) takes it as is.
"""
from __future__ import annotations

import json
import os

import numpy as np
import torch


class RecordingError(ValueError):
    """The directory is not a complete migm trajectory recording."""


def load(directory: str) -> dict:
    index_path = os.path.join(directory, "trajectories.json")
    if not os.path.exists(index_path):
        raise RecordingError(f"{directory} has no trajectories.json: record one with `migm record --out {directory}`")
    with open(index_path) as fh:
        index = json.load(fh)
    if index.get("format") != "migm-trajectories" or index.get("version") != 1:
        raise RecordingError(f"{index_path}: not a version-1 migm trajectory recording")
    n_img, steps, branches = index["images"], index["steps"], index["branches"]
    L, D = index["tokens"], index["featureDim"]

    def read(name: str, dtype, count: int) -> np.ndarray:
        # A failed run can leave bytes after the last indexed one; only what the index names is read.
        path = os.path.join(directory, name)
        data = np.fromfile(path, dtype=dtype)
        if data.size < count:
            raise RecordingError(f"{path} holds {data.size} values, the index needs {count} (interrupted recording?)")
        return data[:count]

    run_values = steps * branches * L * D
    feats = read("features.f32", "<f4", max(r["featureOffset"] // 4 + r["images"] * run_values for r in index["runs"]))
    out = np.empty((n_img, steps, branches, L, D), dtype=np.float16)
    for run in index["runs"]:
        b, first, off = run["images"], run["firstImage"], run["featureOffset"] // 4
        # A run is stored step-major as [steps, branches * images, L, D] (rows are [cond; uncond]).
        block = feats[off:off + steps * branches * b * L * D].reshape(steps, branches, b, L, D)
        out[first:first + b] = block.transpose(2, 0, 1, 3, 4)
    tokens = read("tokens.i32", "<i4", n_img * L).reshape(n_img, L)
    reveal = read("reveal_step.i32", "<i4", n_img * L).reshape(n_img, L)
    classes = read("classes.i32", "<i4", n_img)
    counts = np.stack([(reveal == s).sum(1) for s in range(steps)], 1)
    if not (counts == np.asarray(index["counts"])[None]).all():
        raise RecordingError(f"{directory}: reveal steps disagree with the recorded schedule counts")
    return {"features": torch.from_numpy(out), "tokens": torch.from_numpy(tokens.astype(np.int64)),
            "reveal": torch.from_numpy(reveal.astype(np.int64)), "classes": torch.from_numpy(classes.astype(np.int64)),
            "steps": steps, "branches": branches, "index": index}
