"""A copy of a bundle with a newly trained shortcut graph, for every family's trainer command.

The copy hard-links the bundle's files where it can, leaves out the old shortcut graph (and its external-data
files), exports the new one, adds the manifest's `graphs.shortcut` entry (`compatibility` = the base graph's
sha256, the codebook size and the feature width: the runtime refuses the shortcut with any other base) and the
file's size and sha256, validates the manifest, and only then moves the folder into place: on any error nothing
is left at `out`.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
from typing import Callable

from .. import manifest as man
from ..export import OPSET
from ..staging import check_out, staged

GRAPH_FILE = "shortcut.onnx"


def read_manifest(bundle: str, error: type[Exception] = ValueError) -> dict:
    """--bundle's manifest.json as written (the family checks what it needs of it)."""
    path = os.path.join(bundle, "manifest.json")
    if not os.path.isfile(path):
        raise error(f"--bundle: {bundle} has no manifest.json")
    with open(path) as fh:
        return json.load(fh)


def write_with_shortcut(src: str, m: dict, out: str, *, export: Callable[[str], None], spec: tuple, parameters: int,
                        compatibility: dict, architecture: dict, provenance: dict, command: str,
                        error: type[Exception] = ValueError, log=print) -> dict:
    """Writes the copy and returns its manifest. `export(path)` writes the ONNX graph; `spec` is its (inputs,
    outputs); `compatibility` holds codebookSize and featureDim (baseSha256 is added); `architecture` goes to
    training.architecture.shortcut and `provenance` (with provenance["trajectories"]["steps"], the recorded N)
    to training.shortcutTraining; `command` names the trainer in the description. Bad input raises `error`."""
    check_out(out, error)
    if os.path.abspath(out) == os.path.abspath(src):
        raise error("--out must be a new folder, not the --bundle")
    m = copy.deepcopy(m)
    old = m["graphs"].get("shortcut")
    old_files = {old["file"], *(old.get("externalData") or [])} if old else set()
    files = [f for f in m["files"] if f["path"] not in old_files]
    if any(f["path"] == GRAPH_FILE for f in files):
        raise error(f"--bundle: another graph already uses the file name {GRAPH_FILE}")
    with staged(out, f".{command}-") as tmp:  # files are hard links to --bundle's: their modes stay as they are
        for f in files:
            dst = os.path.join(tmp, f["path"])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.link(os.path.join(src, f["path"]), dst)
            except OSError:
                shutil.copy2(os.path.join(src, f["path"]), dst)
        log(f"{command}: exporting the shortcut ({parameters:,} parameters, {m['training'].get('dtype', 'fp32')})")
        export(os.path.join(tmp, GRAPH_FILE))
        os.chmod(os.path.join(tmp, GRAPH_FILE), 0o644)
        base_sha = next(f["sha256"] for f in files if f["path"] == m["graphs"]["base"]["file"])
        ins, outs = spec
        m["graphs"]["shortcut"] = {
            "file": GRAPH_FILE, "opset": OPSET, "parameters": parameters, "inputs": ins, "outputs": outs,
            "trainedSteps": provenance["trajectories"]["steps"],
            "compatibility": {"baseSha256": base_sha, **compatibility}}
        m["files"] = files + [man.file_entry(tmp, GRAPH_FILE)]
        m["training"]["architecture"]["shortcut"] = architecture
        m["training"]["shortcutTraining"] = provenance
        weights = m["training"].get("weights")
        if isinstance(weights, dict):  # an imported bundle names each graph's weights
            m["training"]["weights"] = dict(weights, shortcut=f"trained with python -m migm_train {command}")
        note = f"shortcut trained with {command}"
        if note not in m["description"]:
            m["description"] = m["description"].rstrip(".") + f"; {note}."
        man.write(m, tmp)
    return m
