"""The model families of the toolkit, one line each.

A family is a folder under migm_train/ with its modules, a `commands.py` whose `add_commands(sub)` adds its
subcommands to the CLI (no torch import at module level), and an adapter to the shared shortcut trainer
(migm_train.shortcut: its shortcut module, its pairs, optionally a KL term through its base's head). The shared
parts (export.py, manifest.py, schedules.py, masking.py, layers.py, sampler.py, shortcut/) know no family.
Adding a family is its folder, one line here and its tests.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str      # as the docs call it
    folder: str    # migm_train/<folder>/, with commands.py
    adapter: str   # the module that trains its shortcut with migm_train.shortcut.train
    summary: str


FAMILIES = (
    Family("fashion-mnist", "fashion_mnist", "fashion_mnist.shortcut_train",
           "the default bundle, trained here on Fashion-MNIST (build, report)"),
    Family("maskgit512", "maskgit512", "maskgit512.train_shortcut",
           "the paper's MaskGIT-512, imported from released weights (import-maskgit, record-maskgit, train-maskgit-shortcut)"),
    Family("amused", "amused", "amused.shortcut_train",
           "aMUSEd text-to-image, imported from a model folder (import-amused, record-amused, train-amused-shortcut)"),
)
