"""Evaluation classifier: a small CNN whose penultimate features define the Frechet distance (FD)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, num_classes: int = 10, feature_dim: int = 128, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 7 * 7, feature_dim), nn.ReLU(),
        )
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(feature_dim, num_classes)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.body(pixels)
        return self.fc(self.drop(feats)), feats


def train(images: np.ndarray, labels: np.ndarray, epochs: int, batch: int, lr: float, seed: int,
          feature_dim: int = 128, log=print) -> Classifier:
    from .data import to_float

    torch.manual_seed(seed)
    model = Classifier(feature_dim=feature_dim)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.from_numpy(to_float(images))
    y = torch.from_numpy(labels)
    g = torch.Generator().manual_seed(seed)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    model.train()
    step = 0
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for s in range(len(x) // batch):
            idx = perm[s * batch:(s + 1) * batch]
            logits, _ = model(x[idx])
            loss = nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 200 == 0:
                log(f"classifier epoch {ep} step {step}/{steps} loss {loss.item():.4f}")
    model.eval()
    return model


@torch.no_grad()
def predict(model: Classifier, pixels: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (predicted class [n], features [n, F] float64)."""
    preds, feats = [], []
    for s in range(0, len(pixels), batch):
        logits, f = model(pixels[s:s + batch])
        preds.append(logits.argmax(1))
        feats.append(f.double())
    return torch.cat(preds), torch.cat(feats)
