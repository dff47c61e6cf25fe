"""Frechet distance between Gaussian fits of classifier features (FID-style, own classifier)."""
from __future__ import annotations

import numpy as np


def stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    # Tr sqrt(S1 S2) = Tr sqrt(sqrt(S1) S2 sqrt(S1)), which is symmetric PSD: no complex sqrtm needed.
    r1 = _sqrtm_psd(s1)
    w = np.linalg.eigvalsh(r1 @ s2 @ r1)
    tr_cov = float(np.sqrt(np.clip(w, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_cov)
