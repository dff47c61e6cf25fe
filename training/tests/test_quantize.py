"""`python -m migm_train quantize` (issue 26) on a small random-init MaskGIT bundle: each precision's variants are
listed in a manifest that validates, stay within a measured relative output error of fp32, leave the fp32 files
(and the shortcut's baseSha256) untouched, and load and generate through `migm generate --dtype`; bad arguments are
one error line with nothing written."""
import json
import os
import subprocess

import pytest

from migm_train import cli
from migm_train import manifest as man
from migm_train import quantize
from migm_train.maskgit512 import importer

from test_maskgit512 import MIGM, _wait_for_cli_build

# Relative L2 error of each variant's outputs against fp32 (quantize.relative_errors, batch 4, half-masked tokens)
# at the small config, random weights (seed 5), measured: int8 at most 0.019, int4 0.15, fp16 0.0012. Random
# weights are the hard case for int4 (no outliers to fit the scale to); the default bundle's trained base measured
# 0.075 and its shortcut 0.16 (BENCHMARKS.md, "Precision variants").
TOLERANCE = {"int8": 0.05, "int4": 0.3, "fp16": 5e-3}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("q")
    base, vq, sc = importer.random_models(importer.CONFIGS["small"](), seed=5)
    out = root / "fp32"
    importer.write_bundle(base, vq, sc, str(out), names=[f"class {i}" for i in range(base.cfg.num_classes)],
                          name="q-test", description="quantize test", provenance={"weights": "random"}, log=lambda m: None)
    return root, out


@pytest.fixture(scope="module")
def variants(bundle):
    """int8, then int4 on its output, then fp16 on that: one bundle with all three."""
    root, src = bundle
    results = {}
    for p in ("int8", "int4", "fp16"):
        out = root / f"with-{p}"
        results[p] = quantize.quantize_bundle(str(src), str(out), p, log=lambda m: None)
        src = out
    return src, results


def _manifest(path):
    return json.loads((path / "manifest.json").read_text())


def test_variants_listed_and_valid(bundle, variants):
    _, fp32 = bundle
    out, _ = variants
    m, orig = _manifest(out), _manifest(fp32)
    man.validate(m)
    files = {f["path"]: f for f in m["files"]}
    # every fp32 file unchanged: same sha256, and the shortcut still names the fp32 base
    for f in orig["files"]:
        assert files[f["path"]] == f
    assert m["graphs"]["shortcut"]["compatibility"]["baseSha256"] == files[m["graphs"]["base"]["file"]]["sha256"]
    # the affine head is left out by default; the decoder (convolutions only) has only an fp16 variant
    assert set(m["graphs"]["base"]["variants"]) == {"int8", "int4", "fp16"}
    assert set(m["graphs"]["shortcut"]["variants"]) == {"int8", "int4", "fp16"}
    assert "variants" not in m["graphs"]["head"]
    assert set(m["graphs"]["decoder"]["variants"]) == {"fp16"}
    for role, g in m["graphs"].items():
        for p, v in g.get("variants", {}).items():
            assert v["file"] == f"{role}.{p}.onnx" and man.sha256_file(str(out / v["file"])) == files[v["file"]]["sha256"]
    assert sorted(os.listdir(out)) == sorted(list(files) + ["manifest.json"])
    # the quantized base is smaller than fp32's
    for p in ("int8", "int4", "fp16"):
        assert files[f"base.{p}.onnx"]["bytes"] < files["base.onnx"]["bytes"]


def test_operators(variants):
    import onnx

    out, _ = variants
    ops = {p: {n.op_type for n in onnx.load(str(out / f"base.{p}.onnx")).graph.node} for p in ("int8", "int4")}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops["int8"]
    assert "MatMulNBits" in ops["int4"]
    fp16 = onnx.load(str(out / "base.fp16.onnx"))
    # float32 in and out, float16 inside
    assert all(i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16 for i in fp16.graph.output)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)


@pytest.mark.parametrize("precision", ["int8", "int4", "fp16"])
def test_relative_error_within_tolerance(variants, precision):
    _, results = variants
    errors = results[precision]["errors"]
    assert errors, "no graph was quantized"
    for role, outs in errors.items():
        for name, e in outs.items():
            assert 0 < e["l2"] <= TOLERANCE[precision], f"{precision} {role}.{name}: {e}"


def test_affine_head_int4_keeps_float_arithmetic(bundle, tmp_path):
    _, src = bundle
    res = quantize.quantize_bundle(str(src), str(tmp_path / "h"), "int4", ("head",), log=lambda m: None)
    assert "accuracy level 0" in res["manifest"]["graphs"]["head"]["variants"]["int4"]["method"]


@pytest.mark.parametrize("argv,message", [
    (["--precision", "int3"], "--precision: 'int3' is not one of fp16, int8, int4"),
    (["--precision", "int8", "--graphs", "base,encoder"], "--graphs: unknown graph encoder"),
    (["--precision", "int8", "--graphs", "classifier"], "the bundle has no classifier graph"),
    (["--precision", "int8", "--graphs", "head"], "the head is declared affine"),
    (["--precision", "int8", "--graphs", "decoder"], "decoder has no MatMul or Gemm with constant weights"),
])
def test_bad_arguments_write_nothing(bundle, tmp_path, capsys, argv, message):
    _, src = bundle
    out = tmp_path / "out"
    assert cli.main(["quantize", "--bundle", str(src), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert os.listdir(tmp_path) == []  # no --out, no temporary folder left beside it


def test_existing_variant_and_out_refused(variants, tmp_path, capsys):
    out, _ = variants
    assert cli.main(["quantize", "--bundle", str(out), "--out", str(tmp_path / "again"), "--precision", "int8"]) == 2
    assert "already has a int8 variant" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert cli.main(["quantize", "--bundle", str(out), "--out", str(tmp_path / "full"), "--precision", "int8",
                     "--graphs", "shortcut"]) == 2
    assert os.listdir(tmp_path / "full") == ["x"]


@pytest.mark.parametrize("dtype", ["fp32", "int8", "int4", "fp16", "base=int4,shortcut=int8"])
def test_generate_with_dtype(variants, tmp_path, dtype):
    """The Node backend loads each dtype's files and generates (vanilla and the shortcut, both run by compare)."""
    out, _ = variants
    _wait_for_cli_build()
    png = tmp_path / "x.png"
    res = subprocess.run(["node", MIGM, "compare", "--bundle", str(out), "--dtype", dtype, "--class", "1", "--count", "2",
                          "--method", "shortcut", "--out", str(png), "--quiet"],
                         capture_output=True, text=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))
    assert res.returncode == 0, res.stderr
    assert png.stat().st_size > 0
    # the affine check of the (fp32) head holds: no warning
    assert "affine" not in res.stderr


def test_generate_bad_dtype_is_one_error(variants, tmp_path):
    out, _ = variants
    _wait_for_cli_build()
    for dtype, message in (("int3", "--dtype must be one of fp32, fp16, int8, int4"),
                           ("head=int8", "graph head has no int8 variant")):
        res = subprocess.run(["node", MIGM, "generate", "--bundle", str(out), "--dtype", dtype, "--class", "1",
                              "--count", "1", "--out", str(tmp_path / "y.png"), "--quiet"],
                             capture_output=True, text=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))
        assert res.returncode != 0 and message in res.stderr, res.stderr
        assert not (tmp_path / "y.png").exists()
