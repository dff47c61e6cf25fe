"""Trajectories recorded by the TypeScript runtime load into the trainer's layout."""
import os
import shutil

import pytest
import torch

from migm_train.fashion_mnist import recorded
from migm_train.fashion_mnist.trajectories import pairs_at_step

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "recorded-tiny")


def test_loads_into_trainer_layout():
    traj = recorded.load(FIXTURE)
    idx = traj["index"]
    n, L, D = idx["images"], idx["tokens"], idx["featureDim"]
    assert traj["features"].shape == (n, idx["steps"], 2, L, D)
    assert traj["tokens"].shape == (n, L) and traj["reveal"].shape == (n, L)
    assert int(traj["tokens"].max()) < idx["codebookSize"]
    # Step 0 starts from an all-masked grid: the two conditional rows of one run differ only by class.
    assert torch.isfinite(traj["features"].float()).all()
    f, ids, pos, ratio, target, still = pairs_at_step(traj, torch.arange(n), torch.zeros(n, dtype=torch.long), 1)
    assert ids.shape == pos.shape == (n, idx["counts"][1])
    assert torch.allclose(ratio, torch.full((n,), (L - sum(idx["counts"][:2])) / L))


def test_refuses_incomplete_recordings(tmp_path):
    with pytest.raises(recorded.RecordingError, match="migm record"):
        recorded.load(str(tmp_path))
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURE, broken)
    data = (broken / "features.f32").read_bytes()
    (broken / "features.f32").write_bytes(data[:-4])
    with pytest.raises(recorded.RecordingError, match="interrupted"):
        recorded.load(str(broken))
