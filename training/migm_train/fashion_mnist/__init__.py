"""The Fashion-MNIST default bundle (`python -m migm_train build`): tokenizer, base, trajectories, shortcut,
evaluation and report. Its shortcut trains with the shared trainer (migm_train.shortcut.train)."""
