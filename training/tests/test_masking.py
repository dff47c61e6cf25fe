import torch

from migm_train.masking import arccos_ratio, random_mask
from migm_train.fashion_mnist.tokenizer import fit_kmeans, patchify, unpatchify


def test_random_mask_counts_and_ids():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 16, (5, 50), generator=g)
    ratio = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    masked, mask = random_mask(tokens, ratio, 16, g)
    assert mask.sum(1).tolist() == [1, 5, 25, 45, 50]  # at least one masked position per row
    assert (masked[mask] == 16).all() and (masked[~mask] == tokens[~mask]).all()


def test_arccos_ratio_range():
    r = arccos_ratio(10000, torch.Generator().manual_seed(0))
    assert 0.0 <= float(r.min()) and float(r.max()) <= 1.0
    assert float(r.mean()) > 0.55  # arccos(u)/(pi/2) has mean 2/pi: masks more than half on average


def test_patchify_roundtrip_and_kmeans():
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(unpatchify(patchify(x, 2), 2, 28, 28), x)
    pts = torch.cat([torch.zeros(100, 4), torch.ones(100, 4)])
    cb = fit_kmeans(pts, 2, 5, seed=0)
    assert torch.allclose(cb, torch.tensor([[0.0] * 4, [1.0] * 4]))
