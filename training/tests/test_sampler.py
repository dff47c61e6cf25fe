import torch

from migm_train.fashion_mnist.base_model import BaseConfig, BaseModel
from migm_train.sampler import SamplerOptions, sample
from migm_train.schedules import token_counts
from migm_train.fashion_mnist.shortcut import Shortcut, ShortcutConfig

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


def test_shortcut_taylor_is_the_shortcut_before_the_second_full_step_and_taylor_after():
    base = _base()
    cls = torch.tensor([0, 1, 2])
    opts = SamplerOptions(steps=8, budget=3)                  # plan [0, 3, 5]
    zero = Shortcut(ShortcutConfig(dim=16, width=8, heads=2), base).eval()   # v = 0: the shortcut is reuse

    def run(o, sc):
        return sample(base, cls, o, torch.Generator().manual_seed(6), shortcut=sc, record=True)

    # With a zero velocity the shortcut part is reuse, which is what taylor does before its second full step.
    assert torch.equal(run(opts.with_(method="shortcut-taylor"), zero).tokens, run(opts.with_(method="taylor"), None).tokens)
    torch.manual_seed(1)
    sc = Shortcut(ShortcutConfig(dim=16, width=8, heads=2), base).eval()
    for p in sc.parameters():
        torch.nn.init.normal_(p, std=0.2)
    hyb, learned = run(opts.with_(method="shortcut-taylor"), sc), run(opts.with_(method="shortcut"), sc)
    assert hyb.full_steps == [0, 3, 5]
    assert torch.equal(hyb.features[:, :4], learned.features[:, :4])      # steps 0-3: the same run so far
    f = hyb.features.float()
    for i, (a, b_) in {4: (0, 3), 6: (3, 5), 7: (3, 5)}.items():
        want = f[:, b_] + (i - b_) * (f[:, b_] - f[:, a]) / (b_ - a)
        assert torch.allclose(f[:, i], want, atol=1e-2), i            # features are recorded in float16
    assert not torch.allclose(f[:, 4], learned.features[:, 4].float(), atol=1e-2)
    try:
        sample(base, cls, opts.with_(method="shortcut-taylor"), torch.Generator().manual_seed(6))
        raise AssertionError("shortcut-taylor ran without a shortcut model")
    except ValueError as e:
        assert "shortcut-taylor" in str(e)
