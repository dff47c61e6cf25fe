"""The bench's second evaluator (migm_train.fashion_mnist.eval_classifier2): an MLP, independent of the bundle's CNN."""
import json
import os

import numpy as np
import torch

from migm_train.fashion_mnist import eval_classifier2 as ec2
from migm_train.fashion_mnist.classifier import Classifier

BENCH_EVALUATORS = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "bench", "evaluators")


def test_mlp_has_the_classifier_interface_and_no_convolution():
    m = ec2.MlpClassifier().eval()
    logits, feats = m(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 10) and feats.shape == (3, ec2.FEATURE_DIM)
    assert (feats >= 0).all()  # ReLU features, like the CNN's
    assert not any(isinstance(x, torch.nn.Conv2d) for x in m.modules())
    assert any(isinstance(x, torch.nn.Conv2d) for x in Classifier().modules())


def test_training_learns_a_separable_toy_set_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=512)
    images = np.zeros((512, 28, 28), dtype=np.uint8)
    images[labels == 0, :, :14] = 255  # class 0: left half lit; class 1: right half
    images[labels == 1, :, 14:] = 255
    a = ec2.train(images, labels, epochs=2, batch=64, hidden=32, log=lambda _: None)
    b = ec2.train(images, labels, epochs=2, batch=64, hidden=32, log=lambda _: None)
    assert ec2.accuracy(a, images, labels) == 1.0
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_export_writes_the_graph(tmp_path):
    path = str(tmp_path / "m.onnx")
    ec2.export(ec2.MlpClassifier(hidden=16).eval(), path)
    assert os.path.getsize(path) > 1000


def test_shipped_card_matches_the_recipe():
    with open(os.path.join(BENCH_EVALUATORS, "mlp-s7.json")) as fh:
        card = json.load(fh)
    assert card["name"] == ec2.NAME and card["seed"] == ec2.SEED != 0  # not the CNN's seed
    assert card["featureDim"] == ec2.FEATURE_DIM
    assert card["parameters"] == sum(p.numel() for p in ec2.MlpClassifier().parameters())
    assert os.path.getsize(os.path.join(BENCH_EVALUATORS, card["file"])) < 3_000_000
    assert 0.85 < card["testAccuracy"] < 0.95
