"""Pieces of the recipe added for the regime: local mixing, the sampler pick rule, rollout training."""
import pytest
import torch

from migm_train.fashion_mnist import shortcut_train
from migm_train.sampler import SamplerOptions
from migm_train.fashion_mnist.base_model import BaseConfig, BaseModel, flops_per_sequence
from migm_train.fashion_mnist.pipeline import pick_sampler
from migm_train.fashion_mnist.shortcut import Shortcut, ShortcutConfig


def test_local_mixing_needs_square_grid():
    with pytest.raises(ValueError, match="square token grid"):
        BaseModel(BaseConfig(length=15, codebook=8, dim=16, depth=1, heads=2, local_mixing=True))


def test_local_mixing_mixes_neighbours_only():
    torch.manual_seed(0)
    cfg = BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2, local_mixing=True)
    m = BaseModel(cfg).eval()
    x = torch.randn(1, 17, 16)
    y = x.clone()
    y[0, 1 + 0] += torch.randn(16)  # grid position (0, 0)
    dx = (m.local[0](y) - m.local[0](x)).abs().sum(-1)[0]
    changed = {i - 1 for i in range(1, 17) if dx[i] > 1e-6}
    assert changed == {0, 1, 4, 5}        # itself and its 3x3 neighbours inside a 4x4 grid
    assert dx[0] == 0                     # the class token passes through
    assert flops_per_sequence(cfg)["base"] > flops_per_sequence(BaseConfig(**{**cfg.to_dict(), "local_mixing": False}))["base"]


def test_pick_sampler_prefers_the_regime():
    rows = [
        {"candidate": {"g": 1}, "fd": 30.0, "fd_few": 30.5},   # best FD, but few steps are as good
        {"candidate": {"g": 2}, "fd": 33.0, "fd_few": 40.0},   # clear gap
        {"candidate": {"g": 3}, "fd": 35.0, "fd_few": 50.0},   # larger gap, worse FD
    ]
    assert pick_sampler(rows, 0.10) == {"g": 2}
    # No candidate with the gap: the largest relative gap wins.
    assert pick_sampler(rows[:1] + [{"candidate": {"g": 4}, "fd": 40.0, "fd_few": 41.0}], 0.10) == {"g": 4}


def _toy_traj(n_img=4, steps=4, length=16, dim=16):
    g = torch.Generator().manual_seed(0)
    reveal = torch.stack([torch.randperm(length, generator=g) % steps for _ in range(n_img)])
    return {"features": torch.randn(n_img, steps, 2, length, dim, generator=g).half(),
            "tokens": torch.randint(0, 8, (n_img, length), generator=g), "reveal": reveal, "steps": steps}


def test_rollout_training_runs_and_validates():
    base = BaseModel(BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2))
    cfg = ShortcutConfig(dim=16, width=8, heads=2, time_dim=16)
    traj = _toy_traj()
    model = shortcut_train.train(base, traj, torch.arange(4), cfg, steps=3, batch=2, lr=1e-3, seed=0,
                                 ema_decay=0.9, rollout=3, log=lambda _m: None)
    assert isinstance(model, Shortcut)
    with pytest.raises(ValueError, match="rollout"):
        shortcut_train.train(base, traj, torch.arange(4), cfg, 1, 2, 1e-3, 0, 0.9, rollout=0)


def test_kl_training_needs_the_sampling_options_and_moves_the_weights():
    base = BaseModel(BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2))
    cfg = ShortcutConfig(dim=16, width=8, heads=2, time_dim=16)
    traj = _toy_traj()
    with pytest.raises(ValueError, match="sampling options"):
        shortcut_train.train(base, traj, torch.arange(4), cfg, 1, 2, 1e-3, 0, 0.9, kl_weight=1.0)
    opts = SamplerOptions(steps=4, guidance=3.0)
    model = shortcut_train.train(base, traj, torch.arange(4), cfg, steps=4, batch=2, lr=1e-2, seed=0, ema_decay=0.0,
                                 rollout=2, kl_weight=1.0, sampling=opts, log=lambda _m: None)
    # The output layer starts at zero (velocity 0 = reuse); training with the KL term must move it.
    assert float(model.out.weight.abs().sum()) > 0
    assert not any(p.requires_grad for p in base.parameters())  # the head is read, never trained
    rows = shortcut_train.per_step_metrics(base, model, traj, torch.arange(4), opts)
    assert len(rows) == 3 and all(r["reuse_kl"] >= 0 and r["shortcut_kl"] >= 0 for r in rows)
    # KL of a prediction against itself is 0.
    f = traj["features"][:2, 1].float().transpose(0, 1).reshape(4, 16, 16)
    still = torch.ones(2, 16)
    assert float(shortcut_train.guided_kl(base, f, f, still, 1, opts)) == pytest.approx(0.0, abs=1e-6)


def test_on_step_sees_every_step_and_changes_nothing():
    from migm_train.sampler import sample
    torch.manual_seed(0)
    base = BaseModel(BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2)).eval()
    opts = SamplerOptions(steps=4, guidance=2.0)
    classes = torch.tensor([1, 3])
    seen = []

    def probe(i, logp, tokens):
        assert logp.shape == (2, 16, 8) and tokens.shape == (2, 16)
        seen.append((i, int((tokens == base.cfg.mask_id).sum())))

    a = sample(base, classes, opts, torch.Generator().manual_seed(5), on_step=probe).tokens
    b = sample(base, classes, opts, torch.Generator().manual_seed(5)).tokens
    assert torch.equal(a, b)
    assert [i for i, _ in seen] == [0, 1, 2, 3]
    assert seen[0][1] == 32 and all(x[1] > y[1] for x, y in zip(seen, seen[1:]))  # before each commit


def test_velocity_decomposition_of_a_zero_velocity_is_nothing_explained():
    base = BaseModel(BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2))
    model = Shortcut(ShortcutConfig(dim=16, width=8, heads=2, time_dim=16), base).eval()  # zero-init: velocity 0
    rows = shortcut_train.velocity_decomposition(model, _toy_traj(), torch.arange(4))
    assert [r["step"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert r["average_explained"] == pytest.approx(0.0, abs=1e-6)
        assert r["specific_explained"] == pytest.approx(0.0, abs=1e-6)
        assert r["speed_ratio"] == 0.0 and 0.0 < r["specific_share"] < 1.0


def test_frechet_terms_and_class_spread():
    import numpy as np
    from migm_train.fd import class_spread, frechet, frechet_terms, stats
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    mean_term, cov_term = frechet_terms(*stats(a + [2.0, 0.0, 0.0]), *stats(a))
    assert mean_term == pytest.approx(4.0, rel=1e-6) and cov_term == pytest.approx(0.0, abs=1e-6)
    assert frechet(*stats(a * 2), *stats(a)) == pytest.approx(sum(frechet_terms(*stats(a * 2), *stats(a))))
    labels = np.arange(4000) % 2
    # Moving the classes apart changes nothing inside a class; scaling every point by 2 scales the spread by 4.
    assert class_spread(a + labels[:, None] * 10.0, labels, 2) == pytest.approx(class_spread(a, labels, 2))
    assert class_spread(2 * a, labels, 2) == pytest.approx(4 * class_spread(a, labels, 2))


def test_segment_decomposition_replays_the_plan():
    base = BaseModel(BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2))
    model = Shortcut(ShortcutConfig(dim=16, width=8, heads=2, time_dim=16), base).eval()
    traj = _toy_traj(steps=6)
    rows = shortcut_train.segment_decomposition(base, model, traj, torch.arange(4), [0, 3],
                                                SamplerOptions(steps=6, guidance=2.0))
    assert [(r["step"], r["from"]) for r in rows] == [(1, 0), (2, 0), (4, 3), (5, 3)]
    assert "taylor" not in rows[0] and "taylor" in rows[2]       # Taylor needs two full steps
    # The zero-init shortcut is reuse: same displacement (none), same KL.
    assert all(r["shortcut"] == r["reuse"] for r in rows)
    assert rows[2]["reuse"]["specific_explained"] == pytest.approx(0.0, abs=1e-6)
