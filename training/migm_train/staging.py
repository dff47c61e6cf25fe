"""Writing an output folder all at once. Every command that makes a bundle or a model folder checks `--out` first
(`check_out`), writes into a temporary folder beside it and renames that into place only when everything is
written (`staged`), so a failure leaves nothing behind and no reader sees half a folder."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


def check_out(out: str, error: type[Exception]) -> None:
    """Refuses an `--out` that exists and is not an empty folder, or whose parent folder does not exist."""
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise error(f"--out: {out} exists and is not an empty folder; nothing was written")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise error(f"--out: the folder {parent} does not exist")


def temp_beside(out: str, prefix: str) -> str:
    """A new private folder beside `out` (the same file system, so `publish` is one rename)."""
    return tempfile.mkdtemp(prefix=prefix, dir=os.path.dirname(os.path.abspath(out)))


def publish(tmp: str, out: str, *, public_files: bool = False) -> None:
    """Makes `tmp` readable by all (mkdtemp makes it private) and renames it to `out`, which must be absent or an
    empty folder (`check_out`). `public_files` also makes every file and subfolder in it readable by all, for
    writers that create them private (onnx's external data, safetensors); it is off where files are hard links to
    a user's bundle, whose modes are not ours to change."""
    if public_files:
        for root, dirs, names in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in names:
                os.chmod(os.path.join(root, f), 0o644)
    os.chmod(tmp, 0o755)
    if os.path.isdir(out):
        os.rmdir(out)
    os.rename(tmp, out)


@contextlib.contextmanager
def staged(out: str, prefix: str, *, public_files: bool = False):
    """Yields a temporary folder beside `out`, published to `out` on a clean exit and removed on any error."""
    tmp = temp_beside(out, prefix)
    try:
        yield tmp
        publish(tmp, out, public_files=public_files)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
