"""The paper's MaskGIT-512 family: PyTorch modules whose state-dict keys and shapes are exactly those of the
released checkpoints (valeoai MaskGIT-pytorch transformer, taming-transformers VQGAN decoder + codebook, the
MIGM-Shortcut `MaskGITShortcut`), strict checkpoint loading, and the bundle importer (`import-maskgit`)."""
