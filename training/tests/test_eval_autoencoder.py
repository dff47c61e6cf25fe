"""The bench's third evaluator (migm_train.fashion_mnist.eval_autoencoder): an autoencoder's latent, trained without labels."""
import json
import os

import numpy as np
import onnxruntime as ort
import torch

from migm_train.fashion_mnist import eval_autoencoder as ea
from migm_train.fashion_mnist import eval_classifier2 as ec2

BENCH_EVALUATORS = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "bench", "evaluators")


def _toy(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=n)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[labels == 0, :, :14] = 255  # class 0: left half lit; class 1: right half
    images[labels == 1, :, 14:] = 255
    return images, labels


def test_training_sees_no_labels_reconstructs_and_is_seeded():
    images, _ = _toy(128)
    untrained = ea.Autoencoder(width=4, latent=8).eval()
    a = ea.train(images, epochs=6, batch=16, lr=1e-2, width=4, latent=8, log=lambda _: None)
    b = ea.train(images, epochs=6, batch=16, lr=1e-2, width=4, latent=8, log=lambda _: None)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    # a trained reconstruction is far better than an untrained one (which outputs ~0.5 everywhere: MSE ~0.25)
    assert ea.reconstruction_mse(a, images) < 0.1 * ea.reconstruction_mse(untrained, images)


def test_readout_is_the_nearest_centroid_and_features_the_latent():
    images, labels = _toy()
    model = ea.train(images, epochs=2, batch=32, width=4, latent=8, log=lambda _: None)
    mu = ea.centroids(model.encoder, images, labels, num_classes=2)
    graph = ea.EvaluatorGraph(model.encoder, mu).eval()
    x = torch.from_numpy(images[:16].astype(np.float32) / 255)[:, None]
    with torch.no_grad():
        logits, z = graph(x)
        assert torch.allclose(z, model.encoder(x))
        nearest = torch.cdist(z, mu).argmin(1)
    assert torch.equal(logits.argmax(1), nearest)
    assert ea.readout_accuracy(graph, images, labels) == 1.0


def test_exported_graph_matches_torch(tmp_path):
    images, labels = _toy(64)
    model = ea.Autoencoder(width=4, latent=8).eval()
    graph = ea.EvaluatorGraph(model.encoder, ea.centroids(model.encoder, images, labels, num_classes=2)).eval()
    path = str(tmp_path / "ae.onnx")
    ea.export(graph, path)
    x = np.random.default_rng(1).random((5, 1, 28, 28), dtype=np.float32)
    logits, feats = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(["logits", "features"], {"pixels": x})
    with torch.no_grad():
        tl, tz = graph(torch.from_numpy(x))
    assert feats.shape == (5, 8) and logits.shape == (5, 2)
    np.testing.assert_allclose(feats, tz.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logits, tl.numpy(), rtol=1e-4, atol=1e-4)


def test_shipped_card_matches_the_recipe():
    with open(os.path.join(BENCH_EVALUATORS, "ae-s11.json")) as fh:
        card = json.load(fh)
    assert card["name"] == ea.NAME and card["label"] == "AE"
    assert card["seed"] == ea.SEED and ea.SEED not in (0, ec2.SEED)  # not the CNN's or the MLP's seed
    assert card["featureDim"] == ea.FEATURE_DIM
    assert card["parameters"] == sum(p.numel() for p in ea.Encoder().parameters())
    assert os.path.getsize(os.path.join(BENCH_EVALUATORS, card["file"])) < 1_000_000
    # the nearest-centroid read-out of an unsupervised latent: well above chance, below the classifiers
    assert 0.5 < card["testAccuracy"] < 0.85
