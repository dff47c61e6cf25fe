"""Tiny train -> trajectories -> shortcut -> export -> ONNX parity (onnxruntime-node) run."""
import json
import os
import subprocess

import numpy as np
import pytest

from migm_train import manifest
from migm_train.fashion_mnist import export
from migm_train.fashion_mnist.base_model import BaseExport
from migm_train.fashion_mnist.config import tiny
from migm_train.fashion_mnist.pipeline import TRAINING_DIR, Build
from migm_train.fashion_mnist.tokenizer import Decoder

ORT_RUN = os.path.join(TRAINING_DIR, "scripts", "ort-run.mjs")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    b = Build(tiny(), str(root / "work"), str(root / "bundle"), str(root / "fixtures"), log_file=False)
    b.run()
    return b


def test_manifest_valid_and_files_hashed(built):
    with open(os.path.join(built.out, "manifest.json")) as fh:
        mf = json.load(fh)
    manifest.validate(mf)
    for f in mf["files"]:
        assert manifest.sha256_file(os.path.join(built.out, f["path"])) == f["sha256"]
    assert mf["graphs"]["shortcut"]["compatibility"]["baseSha256"] == next(
        f["sha256"] for f in mf["files"] if f["path"] == mf["graphs"]["base"]["file"])
    assert set(mf["graphs"]) == {"base", "head", "decoder", "shortcut", "classifier"}


def test_regime_ran_in_the_background(built):
    # The full run hands the regime check to a child process; its result and log must be there.
    assert os.path.exists(built.path("regime.pt")) and os.path.exists(built.path("regime.out"))
    assert "stage 'regime' done" in open(built.path("regime.out")).read()
    assert len(built.load("regime.pt")["rows"]) == len(built.cfg.regime_steps)


def test_compare_can_take_a_vanilla_row_from_the_regime_check_while_it_runs(built):
    n, images = built.cfg.regime_steps[0], built.cfg.regime_images
    done = built.finished_regime_row(n, images)
    assert done is not None and done["options"]["steps"] == n and done["fd_pooled"] == built.load("regime.pt")["rows"][0]["fd_pooled"]
    assert built.finished_regime_row(n, images + 1) is None            # another image count is another row
    assert built.finished_regime_row(max(built.cfg.regime_steps) + 1, images) is None
    def away(name):
        os.rename(built.path(name), built.path(name + ".away"))

    def back(name):
        os.rename(built.path(name + ".away"), built.path(name))

    # While the check is still running there is no regime.pt, only the rows it has finished.
    away("regime.pt")
    try:
        assert built.finished_regime_row(n, images)["fd_pooled"] == done["fd_pooled"]
        away("regime-rows.pt")
        assert built.finished_regime_row(n, images) is None
        back("regime.pt")
        # A work dir from before the row cache has only regime.pt.
        assert built.finished_regime_row(n, images)["fd_pooled"] == done["fd_pooled"]
    finally:
        for name in ("regime.pt", "regime-rows.pt"):
            if os.path.exists(built.path(name + ".away")):
                back(name)


def test_stages_are_skipped_when_done(built, capsys):
    built.run(["tokenizer", "base", "shortcut"])
    out = capsys.readouterr().out
    assert "tokenizer: exists, skipped" in out and "shortcut: exists, skipped" in out


def _ort(model: str, inputs: dict, tmp_path) -> dict:
    spec = {k: {"dtype": str(v.dtype), "dims": list(v.shape), "data": v.flatten().tolist()} for k, v in inputs.items()}
    path = tmp_path / "in.json"
    path.write_text(json.dumps(spec))
    res = subprocess.run(["node", ORT_RUN, model, str(path)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"), cwd=TRAINING_DIR)
    return json.loads(res.stdout)


@pytest.mark.parametrize("role", ["base", "head", "decoder", "shortcut", "classifier"])
def test_onnx_parity_dynamic_shapes(built, role, tmp_path):
    base = built.base_model()
    decoder = Decoder(built.load("tokenizer.pt")["codebook"], built.cfg.patch, 28, 28)
    mods = export.modules(base, decoder, built.shortcut_model(base), built.classifier())
    specs = export.graph_specs(base, 128)
    # Batch 3 and n = 4 differ from the export example (2, 5): the dynamic axes must really be dynamic.
    inputs = export.example_inputs(role, base, 3, 4, seed=9)
    want = export.run_torch(mods[role], inputs)
    got = _ort(os.path.join(built.out, f"{role}.onnx"), inputs, tmp_path)
    for tensor, w in zip(specs[role][1].values(), want):
        g = np.array(got[tensor["name"]]["data"], dtype=np.float32).reshape(got[tensor["name"]]["dims"])
        assert g.shape == w.shape
        assert float(np.abs(g - w).max()) <= 1e-4


def test_attention_exports_as_the_fused_contrib_op_or_plain(built, tmp_path, monkeypatch):
    # The shipped export fuses attention into com.microsoft:MultiHeadAttention (self-attention with the q/k/v
    # biases inside the op, cross-attention without); FUSED_ATTENTION_EXPORT = False gives plain opset-17 ops.
    # Parity of both is checked against PyTorch through onnxruntime-node.
    from migm_train import layers
    base = built.base_model()
    mods = {"base": BaseExport(base).eval()}
    specs = export.graph_specs(base, 128)
    inputs = export.example_inputs("base", base, 3, 4, seed=4)
    want = export.run_torch(mods["base"], inputs)
    for fused in (True, False):
        monkeypatch.setattr(layers, "FUSED_ATTENTION_EXPORT", fused)
        path = str(tmp_path / f"base-{fused}.onnx")
        export.export_graph("base", mods["base"], specs["base"], base, path)
        assert (b"MultiHeadAttention" in open(path, "rb").read()) == fused
        got = _ort(path, inputs, tmp_path)
        for tensor, w in zip(specs["base"][1].values(), want):
            g = np.array(got[tensor["name"]]["data"], dtype=np.float32).reshape(got[tensor["name"]]["dims"])
            assert float(np.abs(g - w).max()) <= 1e-4


def test_interrupted_stage_names_the_stage(tmp_path, monkeypatch, capsys):
    from migm_train.fashion_mnist import base_train
    from migm_train.fashion_mnist.pipeline import StageError

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(base_train, "train", interrupted)
    b = Build(tiny(), str(tmp_path / "w"), str(tmp_path / "b"), None, log_file=False)
    b.stage_tokenizer()
    with pytest.raises(StageError, match="stage 'base' did not finish.*rerun"):
        b.run(["base"])
    assert os.path.exists(tmp_path / "w" / "base.running")
    monkeypatch.undo()
    with pytest.raises(StageError):  # still interrupted: the next run says so first
        monkeypatch.setattr(base_train, "train", interrupted)
        b.run(["base"])
    assert "was interrupted last time" in capsys.readouterr().out
