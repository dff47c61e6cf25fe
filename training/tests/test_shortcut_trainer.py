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


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The fixture was recorded on one torch thread: a reduction split over other thread counts rounds
    differently, and AdamW turns that rounding into visible steps for parameters whose true gradient is zero
    (an attention key bias)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


# --- the shared parts on their own ------------------------------------------------------------------------

def test_recipe_defaults_are_the_papers_and_both_schedules():
    r = shared.PAPER_RECIPE
    assert (r.lr, r.lr_decay_step, r.lr_decay, r.weight_decay, r.ema_decay, r.batch) == (1e-4, 1000, 0.1, 0.01, 0.9999, 4)
    assert (r.rollout, r.kl_weight, r.clip_norm, r.schedule, r.ema_copy_first, r.amp) == (1, 0.0, None, "step", True, True)
    assert r.lr_at(999) == 1e-4 and r.lr_at(1000) == pytest.approx(1e-5)
    c = shared.Recipe(steps=100, lr=1.0, schedule="warmup-cosine", warmup=10)
    assert c.lr_at(0) == pytest.approx(0.1) and c.lr_at(9) == pytest.approx(0.5 * (1 + np.cos(np.pi * 9 / 100)))
    assert c.lr_at(99) < 0.01
    with pytest.raises(ValueError):
        shared.Recipe(schedule="linear")
    with pytest.raises(ValueError):
        shared.Recipe(ema_decay=1.0)


class _ToyShortcut(torch.nn.Module):
    """velocity = W emb(mean of new tokens) + u ratio, the same at every position."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(12, 6)
        self.w = torch.nn.Linear(6, 4)
        self.u = torch.nn.Linear(1, 4)

    def forward(self, feature, ids, pos, ratio):
        v = self.w(self.emb(ids).mean(1)) + self.u(ratio[:, None])
        return v[:, None, :].expand_as(feature)


def _toy_pairs(g: torch.Generator, rows: int, s: int, truth: _ToyShortcut) -> shared.Pairs:
    f_prev = torch.randn(rows, 8, 4, generator=g)
    ids_prev = torch.randint(0, 12, (rows, 3), generator=g)
    ids = torch.randint(0, 12, (rows, 3), generator=g)
    pos = torch.randint(0, 8, (rows, 3), generator=g)
    ratio = torch.full((rows,), 1 - (s + 1) / 8)
    with torch.no_grad():
        f = f_prev + truth(f_prev, ids_prev, pos, ratio + 1 / 8)
        target = f + truth(f, ids, pos, ratio)
    still = torch.rand(rows, 8, generator=g) < ratio[:, None]
    return shared.Pairs(f, ids, pos, ratio, target, still, s, prev=f_prev)


def test_the_trainer_beats_reuse_and_taylor_on_held_out_pairs():
    """A toy family whose true velocity depends on the revealed tokens: after training, the shortcut's held-out
    one-step error is below feature reuse's and Taylor's (both miss the new tokens' effect)."""
    torch.manual_seed(3)
    truth = _ToyShortcut()
    g = torch.Generator().manual_seed(1)
    r = shared.Recipe(steps=300, batch=8, lr=3e-2, lr_decay_step=200, ema_decay=0.0, seed=0)
    batches = ([[_toy_pairs(g, r.batch, int(torch.randint(1, 6, (1,), generator=g)), truth)]] for _ in range(r.steps))
    model, raw, hist = shared.train(_ToyShortcut, batches, r, log=lambda m: None)
    assert model is raw and len(hist) == 300 and np.mean(hist[-20:]) < 0.05 * np.mean(hist[:20])
    held = [_toy_pairs(g, 16, s, truth) for s in range(1, 6)]
    res = shared.heldout(model, held)
    assert [row["step"] for row in res["rows"]] == [1, 2, 3, 4, 5] and res["rows"][0]["examples"] == 16
    assert res["shortcut_mse"] < 0.1 * min(res["reuse_mse"], res["taylor_mse"]), res
    assert res["shortcut_cos"] > max(res["reuse_cos"], res["taylor_cos"])


def test_rollout_chains_feed_the_prediction_forward():
    truth = _ToyShortcut()
    g = torch.Generator().manual_seed(2)
    p0, p1 = _toy_pairs(g, 4, 1, truth), _toy_pairs(g, 4, 2, truth)
    p1.feature = p0.target  # a chain: step 2 starts where step 1 ends
    model = _ToyShortcut()
    with torch.no_grad():
        pred0 = p0.feature + model(p0.feature, p0.ids, p0.pos, p0.ratio)
        pred1 = pred0 + model(pred0, p1.ids, p1.pos, p1.ratio)
        want = (shared.per_row_mse(pred0, p0.target, p0.still).mean() + shared.per_row_mse(pred1, p1.target, p1.still).mean()) / 2
        assert float(shared.chains_loss(model, [[p0, p1]])) == pytest.approx(float(want))


def _writer_index(steps=3, L=4, P=2):
    return {"bundle": "toy", "baseSha256": "0" * 64, "tokens": L, "grid": [2, 2], "featureDim": P, "codebookSize": 5,
            "maskId": 5, "steps": steps, "counts": [2, 1, 1], "branches": 2}


def _run(rng, n, steps=3, L=4, P=2):
    reveal = np.stack([rng.permutation([0, 0, 1, 2]) for _ in range(n)])
    return (rng.standard_normal((steps, 2 * n, L, P)).astype(np.float32), rng.integers(0, 5, (n, L)), reveal,
            np.arange(n))


def test_recording_writer_and_reader_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    runs = [_run(rng, 2), _run(rng, 3)]
    with recording.RecordingWriter(str(tmp_path / "rec"), _writer_index()) as w:
        for i, run in enumerate(runs):
            w.add_run(*run, seed=i)
        index = w.close()
    assert index["images"] == 5 and [r["firstImage"] for r in index["runs"]] == [0, 2]
    rec = recording.Recording(str(tmp_path / "rec"))
    feats, _, reveal, _ = runs[1]
    # image 3 is row 1 of the second run; its uncond branch at step 2 is row n + 1 of that run's step block
    assert np.array_equal(rec.feature(3, 2, 1), feats[2, 3 + 1])
    assert np.array_equal(rec.reveal[3], reveal[1])
    tr, va = recording.split(rec, 1)
    assert len(tr) == 4 * 2 * 2 and {i for i, _, _ in va} == {4}
    p = recording.pairs_from_recording(rec, [(0, 1, 0), (3, 1, 1)], with_prev=True)
    assert p.ids.shape == (2, 1) and torch.equal(p.ids[1], torch.from_numpy(rec.tokens[3])[p.pos[1]])
    assert torch.equal(p.prev[1], torch.from_numpy(rec.feature(3, 0, 1)))
    assert p.still.sum(1).tolist() == [1, 1] and p.ratio.tolist() == [0.25, 0.25]
    a, b = (recording.StepBatches(rec, tr, 3, 7, 5)[4] for _ in range(2))
    assert [[q.step for q in chain] for chain in a] == [[q.step for q in chain] for chain in b]
    assert all(torch.equal(x[0].feature, y[0].feature) for x, y in zip(a, b))


def test_an_interrupted_recording_leaves_nothing(tmp_path):
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError):
        with recording.RecordingWriter(str(tmp_path / "rec"), _writer_index()) as w:
            w.add_run(*_run(rng, 2), seed=0)
            raise RuntimeError("sampler failed")
    assert os.listdir(tmp_path) == []
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(recording.RecordingError, match="not an empty folder"):
        recording.RecordingWriter(str(tmp_path / "full"), _writer_index())
