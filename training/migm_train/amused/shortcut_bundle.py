"""A copy of an aMUSEd bundle with a shortcut graph (role `shortcut`: feature, newTokens, newPositions, ratio ->
velocity, the runtime's GRAPH_CONTRACT), written by the shared bundle copier (migm_train.shortcut.bundle): the
manifest gets the graph, its file's size and sha256, and `compatibility` = the base graph's sha256, the codebook
size and the feature width, so the runtime refuses the shortcut beside any other base (it was trained on that
base's features)."""
from __future__ import annotations

import copy

from .. import export, layers
from ..shortcut.bundle import write_with_shortcut
from .shortcut import AmusedShortcut, ShortcutGraph, count_parameters, example_inputs, shortcut_spec
from .shortcut_errors import AmusedShortcutError


def export_shortcut(model: AmusedShortcut, path: str, dtype: str = "fp32") -> None:
    from .importer import store_fp16

    graph = ShortcutGraph(copy.deepcopy(model).float().cpu().eval()).eval()
    if dtype == "fp16":
        graph = store_fp16(graph)
    export.export_module(graph, example_inputs(model.cfg, 2, 3, 0), shortcut_spec(model.cfg), path,
                         layers.FUSED_ATTENTION_EXPORT, fold=dtype == "fp32")


def write_bundle(src: str, m: dict, model: AmusedShortcut, out: str, provenance: dict, log=print) -> dict:
    """The bundle at `src` (manifest `m`) copied to `out` with `model` as its shortcut graph (stored as float16
    when the bundle's weights are); on any error nothing is left at `out`."""
    cfg = model.cfg
    if (cfg.grid * cfg.grid, cfg.codebook, cfg.dim) != (m["tokens"]["count"], m["tokens"]["codebookSize"], m["featureDim"]):
        raise AmusedShortcutError("the shortcut's grid, codebook or width is not the bundle's")
    dtype = m["training"].get("dtype", "fp32")
    return write_with_shortcut(src, m, out, export=lambda path: export_shortcut(model, path, dtype),
                               spec=shortcut_spec(cfg), parameters=count_parameters(model),
                               compatibility={"codebookSize": cfg.codebook, "featureDim": cfg.dim},
                               architecture=cfg.to_dict(), provenance=provenance, command="train-amused-shortcut",
                               error=AmusedShortcutError, log=log)
