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
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)

    def on_step(ep: int, step: int, loss: float) -> None:
        if step % 200 == 0:
            log(f"classifier epoch {ep} step {step}/{steps} loss {loss:.4f}")

    return fit_cross_entropy(model, x, y, opt, sched, epochs, batch, seed, on_step=on_step)


def fit_cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt, sched, epochs: int, batch: int,
                      seed: int, on_step=None, on_epoch=None) -> nn.Module:
    """Minibatch cross-entropy training of a (logits, features) model, for the bundle's classifier and the bench's
    MLP: each epoch a permutation drawn from a generator seeded with `seed`, len(x) // batch steps (at least one),
    the optimizer's step then the scheduler's. `on_step(epoch, step, loss)` after every step (step counts from 1
    over the run), `on_epoch(epoch, mean loss)` after every epoch. Returns the model in eval mode."""
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = max(1, len(x) // batch)
    model.train()
    step = 0
    for ep in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        total = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            logits, _ = model(x[idx])
            loss = nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            value = loss.item()
            total += value
            if on_step is not None:
                on_step(ep, step, value)
        if on_epoch is not None:
            on_epoch(ep, total / steps_per_epoch)
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
