"""The error of the aMUSEd shortcut commands (record-amused, train-amused-shortcut)."""


class AmusedShortcutError(ValueError):
    """Bad input (bundle, model folder, prompts, recording, flags): one error line, nothing written."""
