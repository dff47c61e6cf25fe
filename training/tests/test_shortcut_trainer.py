"""The one shortcut trainer (migm_train.shortcut) gives the default bundle's and MaskGIT-512's shortcuts the
losses, weights, held-out numbers and recordings that their own trainers gave before it replaced them
(fixtures/shortcut-trainers.json, recorded with that code; each case here repeats its setup)."""
import hashlib
import json
import os

import numpy as np
import pytest
import torch

from migm_train import cli
from migm_train.fashion_mnist import shortcut_train
from migm_train.fashion_mnist.base_model import BaseConfig, BaseModel
from migm_train.fashion_mnist.shortcut import ShortcutConfig
from migm_train.fashion_mnist.trajectories import generate
from migm_train.maskgit512 import record
from migm_train.maskgit512 import train_shortcut as ts
from migm_train.maskgit512.shortcut import ShortcutConfig as MaskGitShortcutConfig
from migm_train.sampler import SamplerOptions
from migm_train.shortcut import recording, train as shared

REF = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "shortcut-trainers.json")))
# Same computation, other summation order (the shared loss is a mean of per-row means; the default bundle's
# was a pooled mean over equally sized rows): rounding only.
RTOL = 1e-5


def _fingerprint(model) -> dict:
    out = {}
    for k, v in model.state_dict().items():
        v = v.detach().double().flatten()
        out[k] = [float(v.sum()), float(v.abs().sum()), *[float(x) for x in v[:3]]]
    return out


def _assert_weights(model, ref: dict):
    got = _fingerprint(model)
    assert sorted(got) == sorted(ref)
    for k, want in ref.items():
        assert got[k] == pytest.approx(want, rel=RTOL, abs=1e-6), k


def test_default_bundle_trainer_is_unchanged(monkeypatch):
    ref = REF["fashion_mnist"]
    torch.manual_seed(0)
    base = BaseModel(BaseConfig(length=16, codebook=16, dim=32, depth=2, heads=2, mlp_ratio=2.0, local_mixing=True)).eval()
    opts = SamplerOptions(steps=4)
    traj = generate(base, 10, opts, 7, 10, 10, log=lambda m: None)
    losses = []
    real = shared.train

    def spy(*a, **k):
        res = real(*a, **k)
        losses.extend(res[2])
        return res

    monkeypatch.setattr(shortcut_train.shared, "train", spy)
    sc = shortcut_train.train(base, traj, torch.arange(7), ShortcutConfig(dim=32, width=16, heads=2), 12, 4, 5e-4, 0,
                              0.9, rollout=2, kl_weight=1.0, sampling=opts, log=lambda m: None)
    assert losses == pytest.approx(ref["losses"], rel=RTOL)
    _assert_weights(sc, ref["ema"])
    rows = shortcut_train.per_step_metrics(base, sc, traj, torch.arange(7, 10), opts)
    assert [sorted(r) for r in rows] == [sorted(r) for r in ref["heldout"]]
    for got, want in zip(rows, ref["heldout"]):
        assert got == pytest.approx(want, rel=RTOL, abs=1e-7)


@pytest.fixture(scope="module")
def maskgit(tmp_path_factory):
    root = tmp_path_factory.mktemp("trainer")
    assert cli.main(["import-maskgit", "--random-init", "--config", "small", "--no-shortcut", "--seed", "7",
                     "--out", str(root / "bundle")]) == 0
    m = ts.load_bundle(str(root / "bundle"))
    base = ts.load_base(m, None, None)
    record.record(base, m, str(root / "traj"), count=6, steps=6, batch=6, seed=1, device="cpu", log=lambda m: None)
    return root, base


def test_maskgit_recorder_writes_the_same_bytes(maskgit):
    root, _ = maskgit
    ref = REF["maskgit512"]["recording"]
    for name in recording.FILES:
        assert hashlib.sha256((root / "traj" / name).read_bytes()).hexdigest() == ref[name], name
    index = json.loads((root / "traj" / "trajectories.json").read_text())
    assert index["baseSha256"] == ref["baseSha256"]
    assert {k: v for k, v in index.items() if k != "baseSha256"} == ref["index_without_bundle_sha"]


def test_maskgit_trainer_is_unchanged(maskgit):
    root, base = maskgit
    ref = REF["maskgit512"]
    rec = ts.open_recording(str(root / "traj"))
    tr, va = ts.split(rec, 2)
    ema, raw, hist = ts.train(base, rec, MaskGitShortcutConfig.for_width(base.cfg.dim, 2, 1, 4), tr, steps=8, batch=3,
                              lr=1e-3, lr_decay_step=4, lr_decay=0.1, weight_decay=0.01, ema_decay=0.9, seed=0,
                              log=lambda m: None)
    assert hist == pytest.approx(ref["losses"], rel=RTOL)
    _assert_weights(ema, ref["ema"])
    _assert_weights(raw, ref["raw"])
    got = ts.evaluate(ema, rec, va, base.cfg, "cpu")
    for k, v in ref["heldout"].items():
        assert got[k] == pytest.approx(v, rel=RTOL)
    # the shared evaluation adds Taylor; on these (random-weight) trajectories it is a real, different number
    assert np.isfinite(got["taylor_mse"]) and got["taylor_mse"] != got["reuse_mse"]
