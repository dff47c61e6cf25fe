"""Frechet distance between Gaussian fits of classifier features (FID-style, own classifier)."""
from __future__ import annotations

import numpy as np


def stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_terms(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> tuple[float, float]:
    """The two parts of the Frechet distance: ||mu1 - mu2||^2 (where the samples sit) and
    Tr(S1 + S2 - 2 sqrt(S1 S2)) (how they spread)."""
    # Tr sqrt(S1 S2) = Tr sqrt(sqrt(S1) S2 sqrt(S1)), which is symmetric PSD: no complex sqrtm needed.
    r1 = _sqrtm_psd(s1)
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_cov = float(np.sqrt(np.clip(w, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum()), float(np.trace(s1) + np.trace(s2) - 2 * tr_cov)


def frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    return sum(frechet_terms(mu1, s1, mu2, s2))


def class_spread(features: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Within-class spread: the mean over classes of the mean squared distance of a class's features to that
    class's mean. FD mixes it with everything else; on its own it says whether a sampler lost (or added)
    variety inside a class, which guidance trades away and caching errors can add back."""
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    per = [((f[labels == c] - f[labels == c].mean(0)) ** 2).sum(1).mean() for c in range(num_classes)
           if (labels == c).any()]
    return float(np.mean(per))
