"""migm_train: trains, evaluates and exports the default MIGM bundle (MaskGIT + learned shortcut)."""
