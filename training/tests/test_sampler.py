import torch

from migm_train.base_model import BaseConfig, BaseModel
from migm_train.sampler import SamplerOptions, sample
from migm_train.schedules import token_counts
from migm_train.shortcut import Shortcut, ShortcutConfig

CFG = BaseConfig(length=16, codebook=8, dim=16, depth=1, heads=2, mlp_ratio=2.0)


def _base():
    torch.manual_seed(0)
    return BaseModel(CFG).eval()


def test_vanilla_reveals_by_schedule():
    res = sample(_base(), torch.tensor([0, 1, 2]), SamplerOptions(steps=5), torch.Generator().manual_seed(1),
                 record=True)
    assert (res.tokens < CFG.codebook).all()
    counts = token_counts(5, 16, "arccos")
    for i, k in enumerate(counts):
        assert ((res.reveal_step == i).sum(1) == k).all()
    assert res.features.shape == (3, 5, 2, 16, 16)


def test_zero_shortcut_equals_reuse_and_full_budget_equals_vanilla():
    base = _base()
    sc = Shortcut(ShortcutConfig(dim=16, width=8, heads=2), base).eval()  # zero-initialised output
    opts = SamplerOptions(steps=6, budget=2)
    cls = torch.tensor([3, 4])
    a = sample(base, cls, opts.with_(method="shortcut"), torch.Generator().manual_seed(2), shortcut=sc).tokens
    b = sample(base, cls, opts.with_(method="reuse"), torch.Generator().manual_seed(2)).tokens
    assert torch.equal(a, b)
    v = sample(base, cls, opts, torch.Generator().manual_seed(3)).tokens
    t = sample(base, cls, opts.with_(method="taylor", budget=6), torch.Generator().manual_seed(3)).tokens
    assert torch.equal(v, t)


def test_skipped_randomize_temperature_acts_on_skipped_steps_only():
    base = _base()
    cls = torch.tensor([0, 1, 2, 3])
    opts = SamplerOptions(steps=6, budget=2, randomize_temperature=3.0)

    def run(o):
        return sample(base, cls, o, torch.Generator().manual_seed(4)).tokens

    vanilla = run(opts)
    assert torch.equal(run(opts.with_(skipped_randomize_temperature=50.0)), vanilla)  # vanilla has no skipped step
    reuse = run(opts.with_(method="reuse"))
    assert torch.equal(run(opts.with_(method="reuse", skipped_randomize_temperature=3.0)), reuse)
    assert not torch.equal(run(opts.with_(method="reuse", skipped_randomize_temperature=50.0)), reuse)
