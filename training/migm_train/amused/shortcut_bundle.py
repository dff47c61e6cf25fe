"""A copy of an aMUSEd bundle with a shortcut graph (role `shortcut`: feature, newTokens, newPositions, ratio ->
velocity, the runtime's GRAPH_CONTRACT). The manifest gets the graph, its file with size and sha256, and
`compatibility` = the base graph's sha256, the codebook size and the feature width: the runtime refuses the
shortcut with any other base (BUNDLE_MISMATCH), since it was trained on that base's features."""
from __future__ import annotations

import copy
import os
import shutil
import tempfile

from .. import export, layers
from .. import manifest as man
from .shortcut import AmusedShortcut, ShortcutGraph, count_parameters, example_inputs, shortcut_spec
from .shortcut_errors import AmusedShortcutError

GRAPH_FILE = "shortcut.onnx"


def export_shortcut(model: AmusedShortcut, path: str, dtype: str = "fp32") -> None:
    from .importer import store_fp16

    graph = ShortcutGraph(copy.deepcopy(model).float().cpu().eval()).eval()
    if dtype == "fp16":
        graph = store_fp16(graph)
    export.export_module(graph, example_inputs(model.cfg, 2, 3, 0), shortcut_spec(model.cfg), path,
                         layers.FUSED_ATTENTION_EXPORT, fold=dtype == "fp32")


def write_bundle(src: str, m: dict, model: AmusedShortcut, out: str, provenance: dict, log=print) -> dict:
    """Copies the bundle (hard links where possible) with `model` as its shortcut graph into a temporary folder
    beside `out`, validates the manifest and moves it into place: on failure nothing is left."""
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise AmusedShortcutError(f"--out: {out} exists and is not an empty folder; nothing was written")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise AmusedShortcutError(f"--out: the folder {parent} does not exist")
    if os.path.abspath(out) == os.path.abspath(src):
        raise AmusedShortcutError("--out must be a new folder, not the --bundle")
    cfg = model.cfg
    if (cfg.grid * cfg.grid, cfg.codebook, cfg.dim) != (m["tokens"]["count"], m["tokens"]["codebookSize"], m["featureDim"]):
        raise AmusedShortcutError("the shortcut's grid, codebook or width is not the bundle's")
    m = copy.deepcopy(m)
    old = m["graphs"].get("shortcut")
    old_files = {old["file"], *(old.get("externalData") or [])} if old else set()
    files = [f for f in m["files"] if f["path"] not in old_files]
    if any(f["path"] == GRAPH_FILE for f in files):
        raise AmusedShortcutError(f"--bundle: another graph already uses the file name {GRAPH_FILE}")
    dtype = m["training"].get("dtype", "fp32")
    tmp = tempfile.mkdtemp(prefix=".amused-shortcut-", dir=parent)
    try:
        for f in files:
            dst = os.path.join(tmp, f["path"])
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                os.link(os.path.join(src, f["path"]), dst)
            except OSError:
                shutil.copy2(os.path.join(src, f["path"]), dst)
        n = count_parameters(model)
        log(f"amused-shortcut: exporting the shortcut ({n:,} parameters, {dtype})")
        export_shortcut(model, os.path.join(tmp, GRAPH_FILE), dtype)
        os.chmod(os.path.join(tmp, GRAPH_FILE), 0o644)
        base = next(f for f in files if f["path"] == m["graphs"]["base"]["file"])
        ins, outs = shortcut_spec(cfg)
        m["graphs"]["shortcut"] = {
            "file": GRAPH_FILE, "opset": export.OPSET, "parameters": n, "inputs": ins, "outputs": outs,
            "trainedSteps": provenance["trajectories"]["steps"],
            "compatibility": {"baseSha256": base["sha256"], "codebookSize": cfg.codebook, "featureDim": cfg.dim}}
        m["files"] = files + [man.file_entry(tmp, GRAPH_FILE)]
        m["training"]["architecture"]["shortcut"] = cfg.to_dict()
        m["training"]["shortcutTraining"] = provenance
        note = "shortcut trained with train-amused-shortcut"
        if note not in m["description"]:
            m["description"] = m["description"].rstrip(".") + f"; {note}."
        man.write(m, tmp)
        os.chmod(tmp, 0o755)
        if os.path.isdir(out):
            os.rmdir(out)
        os.rename(tmp, out)
        return m
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
