"""The one trajectory recording of every family (docs/trajectory-format.md): the reader the shortcut trainer
takes pairs from, and the writer the PyTorch recorders write with, in the layout `migm record` writes.

Features are memory-mapped, never read whole: a paper-size recording (50,000 images x 15 steps x 2 branches x
1,024 tokens x 768) is terabytes.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Callable, Iterable

import numpy as np
import torch

from ..staging import check_out, publish, temp_beside
from .train import Pairs

FILES = ("features.f32", "tokens.i32", "reveal_step.i32", "classes.i32")


class RecordingError(ValueError):
    """The folder is not a complete migm trajectory recording, or cannot be written."""


class Recording:
    """A `migm record` folder. tokens / reveal [images, L] and classes [images] are int64 arrays; `index` is
    trajectories.json as written (family-specific keys, such as a prompt list, are kept)."""

    def __init__(self, directory: str):
        path = os.path.join(directory, "trajectories.json")
        if not os.path.exists(path):
            raise RecordingError(f"{directory} has no trajectories.json (record one with `migm record --bundle BUNDLE "
                                 f"--steps 15 --out {directory}`)")
        with open(path) as fh:
            ix = json.load(fh)
        if ix.get("format") != "migm-trajectories" or ix.get("version") != 1:
            raise RecordingError(f"{path} is not a version-1 migm trajectory recording")
        self.directory, self.index = directory, ix
        self.images, self.steps, self.branches = ix["images"], ix["steps"], ix["branches"]
        self.L, self.P = ix["tokens"], ix["featureDim"]
        if self.steps < 2:
            raise RecordingError(f"N = {self.steps}; training pairs need at least 2 steps")

        def ints(name: str, count: int) -> np.ndarray:
            # A failed run can leave bytes after the last indexed one; only what the index names is read.
            p = os.path.join(directory, name)
            a = np.fromfile(p, dtype="<i4") if os.path.exists(p) else np.zeros(0, np.int32)
            if a.size < count:
                raise RecordingError(f"{p} holds {a.size} values, the index needs {count} (interrupted recording?)")
            return a[:count].astype(np.int64)

        self.tokens = ints("tokens.i32", self.images * self.L).reshape(self.images, self.L)
        self.reveal = ints("reveal_step.i32", self.images * self.L).reshape(self.images, self.L)
        self.classes = ints("classes.i32", self.images)
        counts = np.stack([(self.reveal == s).sum(1) for s in range(self.steps)], 1)
        if not (counts == np.asarray(ix["counts"])[None]).all():
            raise RecordingError(f"{directory}: reveal steps disagree with the recorded counts")
        fpath = os.path.join(directory, "features.f32")
        per_run = self.steps * self.branches * self.L * self.P
        need = max((r["featureOffset"] // 4 + r["images"] * per_run for r in ix["runs"]), default=0)
        have = os.path.getsize(fpath) // 4 if os.path.exists(fpath) else 0
        if have < need:
            raise RecordingError(f"{fpath} holds {have} values, the index needs {need} (interrupted recording?)")
        self.features = np.memmap(fpath, dtype="<f4", mode="r", shape=(have,)) if have else np.zeros(0, "<f4")
        # image -> (run offset in values, run size, row in the run)
        self._where = np.zeros((self.images, 3), dtype=np.int64)
        for r in ix["runs"]:
            for j in range(r["images"]):
                self._where[r["firstImage"] + j] = (r["featureOffset"] // 4, r["images"], j)

    def feature(self, image: int, step: int, branch: int) -> np.ndarray:
        """[L, featureDim] float32: the base's feature at `step` (before its reveal) on `branch`."""
        off, n, j = (int(v) for v in self._where[image])
        size = self.L * self.P
        start = off + ((step * self.branches + branch) * n + j) * size  # a run is [steps, branches * n, L, P]
        return np.array(self.features[start:start + size]).reshape(self.L, self.P)

    def token_state(self, image: int, step: int, mask_id: int) -> np.ndarray:
        """The tokens the base saw at `step`: those revealed before it, the rest masked."""
        t = self.tokens[image].copy()
        t[self.reveal[image] >= step] = mask_id
        return t


Triple = tuple  # (image, step s, branch)


def triples(images: Iterable[int], steps: int, branches: int) -> list[Triple]:
    """Every (image, step, branch) example: steps s = 0..N-2 (the pair s -> s + 1)."""
    return [(i, s, b) for i in images for s in range(steps - 1) for b in range(branches)]


def split(rec: Recording, val_images: int) -> tuple[list[Triple], list[Triple]]:
    """Training and held-out examples: the last `val_images` images are held out."""
    n_train = rec.images - val_images
    if n_train < 1 or val_images < 0:
        raise RecordingError(f"{val_images} held-out images leave no training images (the recording has {rec.images})")
    return (triples(range(n_train), rec.steps, rec.branches),
            triples(range(n_train, rec.images), rec.steps, rec.branches))


def by_step(ts: Iterable[Triple]) -> list[list[Triple]]:
    """Examples grouped by their step, in first-seen order (each group stacks into one Pairs)."""
    groups: dict[int, list] = {}
    for t in ts:
        groups.setdefault(t[1], []).append(t)
    return list(groups.values())


def pairs_from_recording(rec: Recording, ts: list[Triple], *, feature_fn: Callable | None = None,
                         still_fn: Callable | None = None, extra_fn: Callable | None = None,
                         with_prev: bool = False) -> Pairs:
    """Examples of one step s -> Pairs: f_s and f_{s+1} (through feature_fn, default the recorded [b, L, P]),
    the tokens revealed at s and their positions, the mask ratio after s, and the still-masked map (through
    still_fn, e.g. to add positions that are never masked). extra_fn(ts) gives more module inputs; with_prev
    also reads f_{s-1} for held-out Taylor."""
    s = ts[0][1]
    if any(t[1] != s for t in ts):
        raise ValueError("pairs_from_recording: the examples must share one step (group them with by_step)")
    feature_fn = feature_fn or torch.from_numpy
    read = lambda step: feature_fn(np.stack([rec.feature(i, step, b) for i, _, b in ts]))  # noqa: E731
    imgs = [i for i, _, _ in ts]
    reveal = torch.from_numpy(rec.reveal[imgs])
    new = reveal == s
    k = int(new[0].sum())  # every image reveals the schedule's k_s at s, so rows stack
    pos = new.float().argsort(1, descending=True)[:, :k]
    ids = torch.from_numpy(rec.tokens[imgs]).gather(1, pos)
    still = reveal > s
    ratio = still.float().mean(1)
    if still_fn is not None:
        still = still_fn(still)
    return Pairs(read(s), ids, pos, ratio, read(s + 1), still, s, read(s - 1) if with_prev and s > 0 else None,
                 extra_fn(ts) if extra_fn is not None else {})


def heldout_groups(rec: Recording, ts: list[Triple], chunk: int = 16, **pairs_kwargs) -> Iterable[Pairs]:
    """Held-out examples as Pairs of at most `chunk` rows, with f_{s-1} for Taylor."""
    for g in by_step(ts):
        for c in range(0, len(g), chunk):
            yield pairs_from_recording(rec, g[c:c + chunk], with_prev=True, **pairs_kwargs)


class StepBatches(torch.utils.data.Dataset):
    """Optimizer step i -> its examples as single-step chains, one per step present: `batch` examples drawn
    uniformly from `ts` with np.random.default_rng([seed, i]) (the paper's sampling: every (image, branch,
    step) is one example). They depend only on (seed, i), so a DataLoader with any number of workers gives the
    same batches (use batch_size=None)."""

    def __init__(self, rec: Recording, ts: list[Triple], batch: int, seed: int, steps: int, **pairs_kwargs):
        self.rec, self.ts, self.batch, self.seed, self.steps, self.kw = rec, ts, batch, seed, steps, pairs_kwargs

    def __len__(self):
        return self.steps

    def __getitem__(self, i: int) -> list[list[Pairs]]:
        picks = np.random.default_rng([self.seed, i]).integers(0, len(self.ts), size=self.batch)
        return [[pairs_from_recording(self.rec, g, **self.kw)] for g in by_step([self.ts[p] for p in picks])]


class RecordingWriter:
    """Writes a recording in `migm record`'s layout into a temporary folder beside `out`, moved into place by
    close(): an interrupted recorder leaves nothing at `out`. Use as a context manager."""

    def __init__(self, out: str, index: dict):
        check_out(out, RecordingError)
        self.out, self.index = out, dict(index, format="migm-trajectories", version=1, images=0, runs=[])
        self.tmp = temp_beside(out, ".record-")
        self._files = {name: open(os.path.join(self.tmp, name), "wb") for name in FILES}

    def add_run(self, features, tokens, reveal, classes, seed: int) -> None:
        """features [N, branches * b, L, P] (rows [cond b_0..; uncond b_0..]), tokens / reveal [b, L], classes [b]
        (class ids, or whatever per-image condition id the family's index documents)."""
        arr = lambda t: t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)  # noqa: E731
        tokens = arr(tokens)
        n = len(tokens)
        ff = self._files["features.f32"]
        self.index["runs"].append({"images": n, "seed": seed, "firstImage": self.index["images"],
                                   "featureOffset": ff.tell()})
        ff.write(arr(features).astype("<f4").tobytes())
        self._files["tokens.i32"].write(tokens.astype("<i4").tobytes())
        self._files["reveal_step.i32"].write(arr(reveal).astype("<i4").tobytes())
        self._files["classes.i32"].write(arr(classes).astype("<i4").tobytes())
        self.index["images"] += n

    def close(self) -> dict:
        for fh in self._files.values():
            fh.close()
        with open(os.path.join(self.tmp, "trajectories.json"), "w") as fh:
            json.dump(self.index, fh, indent=1)
        publish(self.tmp, self.out)
        return self.index

    def abort(self) -> None:
        for fh in self._files.values():
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def record(out: str, index: dict, *, count: int, batch: int, seed: int, sample: Callable[[int, int], tuple],
           name: str, log=print) -> dict:
    """Every PyTorch recorder's loop: images first..first+n come from sample(first, n) -> (features
    [N, branches * n, L, P] with rows [cond; uncond], tokens [n, L], reveal steps [n, L], per-image condition ids
    [n]), written as one run each; the folder appears at `out` only once all are written. Returns the index."""
    t0 = time.time()
    with RecordingWriter(out, index) as writer:
        done = 0
        while done < count:
            n = min(batch, count - done)
            writer.add_run(*sample(done, n), seed=seed)
            done += n
            log(f"{name}: {done}/{count} images {time.time() - t0:.0f}s")
        return writer.close()
