"""`python -m migm_train quantize` (issue 26) on small random-init bundles: each precision's variants are listed in
a manifest that validates, stay within a measured relative output error of fp32, leave the fp32 files (and the
shortcut's baseSha256) untouched, and load and generate through `migm generate --dtype`; int8 convolutions (the VQ
decoder) are static QDQ that onnxruntime fuses into QLinearConv; an affine head stays affine in int8 and int4; an
aMUSEd bundle with external-data weights (text encoder, base, decoder) gets self-contained variants that the Node
backend loads and prompts; bad arguments are one error line with nothing written."""
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
# at the small configs, random weights, measured: int8 at most 0.021 (MaskGIT decoder 0.020; aMUSEd text encoder
# 0.039, its decoder 0.092: a calibrated uint8 range over 4 example inputs), int4 0.20 (aMUSEd's text encoder with its
# 4-bit embedding table), fp16 0.0012. Random weights are the hard case for int4 (no outliers to fit the scale to);
# the default bundle's trained base measured 0.075 and its shortcut 0.16 (BENCHMARKS.md, "Precision variants").
TOLERANCE = {"int8": 0.05, "int4": 0.3, "fp16": 5e-3}
DECODER_INT8_TOLERANCE = 0.2  # static QDQ: activations rounded to 256 levels of a range calibrated on 4 inputs


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
    # the affine head gets weight-only int8 and int4 (no fp16); the decoder (convolutions) int8 and fp16, no int4
    assert set(m["graphs"]["base"]["variants"]) == {"int8", "int4", "fp16"}
    assert set(m["graphs"]["shortcut"]["variants"]) == {"int8", "int4", "fp16"}
    assert set(m["graphs"]["head"]["variants"]) == {"int8", "int4"}
    assert set(m["graphs"]["decoder"]["variants"]) == {"int8", "fp16"}
    for role, g in m["graphs"].items():
        for p, v in g.get("variants", {}).items():
            assert v["file"] == f"{role}.{p}.onnx" and man.sha256_file(str(out / v["file"])) == files[v["file"]]["sha256"]
    assert sorted(os.listdir(out)) == sorted(list(files) + ["manifest.json"])
    # the quantized base is smaller than fp32's; the int8 decoder under half of its fp32 file
    for p in ("int8", "int4", "fp16"):
        assert files[f"base.{p}.onnx"]["bytes"] < files["base.onnx"]["bytes"]
    assert files["decoder.int8.onnx"]["bytes"] < 0.5 * files["decoder.onnx"]["bytes"]


def _ops(path):
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node}


def _optimized_ops(path, tmp_path):
    """The operators onnxruntime's CPU provider runs after its graph optimizations (fusions included)."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return {n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node}


def test_operators(variants, tmp_path):
    import onnx

    out, _ = variants
    ops = {p: _ops(out / f"base.{p}.onnx") for p in ("int8", "int4")}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops["int8"]
    assert "MatMulNBits" in ops["int4"]
    fp16 = onnx.load(str(out / "base.fp16.onnx"))
    # float32 in and out, float16 inside
    assert all(i.type.tensor_type.elem_type != onnx.TensorProto.FLOAT16 for i in fp16.graph.output)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in fp16.graph.initializer)
    # the decoder's convolutions: QDQ in the file (no ConvInteger, which ran 6-10x slower than fp32 at paper
    # size), every one fused into QLinearConv when onnxruntime loads it
    dec = _ops(out / "decoder.int8.onnx")
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= dec and "ConvInteger" not in dec
    fused = _optimized_ops(out / "decoder.int8.onnx", tmp_path)
    assert "QLinearConv" in fused and "Conv" not in fused, fused
    # the affine head: weight-only, float32 arithmetic (no activation quantization)
    for p in ("int8", "int4"):
        head = _ops(out / f"head.{p}.onnx")
        assert "MatMulNBits" in head and "DynamicQuantizeLinear" not in head


def test_keep_tables_leaves_embedding_tables_float(bundle, variants, tmp_path):
    """--keep-tables: int4 quantizes the matrices only; the embedding tables stay float32 Gathers (by default
    they are 4-bit GatherBlockQuantized)."""
    _, fp32 = bundle
    default, _ = variants
    assert "GatherBlockQuantized" in _ops(default / "base.int4.onnx")
    out = tmp_path / "int4-tables"
    assert cli.main(["quantize", "--bundle", str(fp32), "--out", str(out), "--precision", "int4", "--keep-tables"]) == 0
    ops = _ops(out / "base.int4.onnx")
    assert "MatMulNBits" in ops and "Gather" in ops and "GatherBlockQuantized" not in ops
    assert "embedding tables" not in _manifest(out)["graphs"]["base"]["variants"]["int4"]["method"]


@pytest.mark.parametrize("precision", ["int8", "int4", "fp16"])
def test_relative_error_within_tolerance(variants, precision):
    _, results = variants
    errors = results[precision]["errors"]
    assert errors, "no graph was quantized"
    for role, outs in errors.items():
        tol = DECODER_INT8_TOLERANCE if (role, precision) == ("decoder", "int8") else TOLERANCE[precision]
        for name, e in outs.items():
            assert 0 < e["l2"] <= tol, f"{precision} {role}.{name}: {e}"


@pytest.mark.parametrize("precision", ["int8", "int4"])
def test_affine_head_stays_affine(variants, precision):
    """head(3.5 x - 2.5 y) = 3.5 head(x) - 2.5 head(y) to 1e-4 of the logits' scale (the backends' own check)."""
    import numpy as np
    import onnxruntime as ort

    out, _ = variants
    m = _manifest(out)
    assert "accuracy level 0" in m["graphs"]["head"]["variants"][precision]["method"]
    s = ort.InferenceSession(str(out / f"head.{precision}.onnx"), providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    feats = quantize.example_feeds(m, str(out), "head", batch=2, seed=3)[name]
    x, y = feats[:1], feats[1:]
    h = lambda v: s.run(None, {name: v.astype(np.float32)})[0]
    scale = max(np.abs(h(x)).max(), np.abs(h(y)).max())
    assert np.abs(h(3.5 * x - 2.5 * y) - (3.5 * h(x) - 2.5 * h(y))).max() <= 1e-4 * scale


@pytest.mark.parametrize("argv,message", [
    (["--precision", "int3"], "--precision: 'int3' is not one of fp16, int8, int4"),
    (["--precision", "int8", "--graphs", "base,encoder"], "--graphs: unknown graph encoder"),
    (["--precision", "int8", "--graphs", "classifier"], "the bundle has no classifier graph"),
    (["--precision", "fp16", "--graphs", "head"], "the head is declared affine"),
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
                           ("decoder=int4", "graph decoder has no int4 variant")):
        res = subprocess.run(["node", MIGM, "generate", "--bundle", str(out), "--dtype", dtype, "--class", "1",
                              "--count", "1", "--out", str(tmp_path / "y.png"), "--quiet"],
                             capture_output=True, text=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))
        assert res.returncode != 0 and message in res.stderr, res.stderr
        assert not (tmp_path / "y.png").exists()


# --- aMUSEd: a text encoder, and weights in external-data files ---------------------------------------------

SPEED = os.path.join(os.path.dirname(MIGM), "..", "..", "bench", "scripts", "precision-speed.mjs")


@pytest.fixture(scope="module")
def amused(tmp_path_factory):
    """The small aMUSEd config imported with a 0.2 MiB chunk limit (text encoder, base and decoder keep their
    weights in external-data files, as the real-size ones do), then int8, then int4 on that."""
    root = tmp_path_factory.mktemp("qa")
    assert cli.main(["import-amused", "--random-init", "--config", "small", "--seed", "3", "--out", str(root / "model")]) == 0
    src = root / "fp32"
    assert cli.main(["import-amused", "--model", str(root / "model"), "--out", str(src), "--chunk-mb", "0.2"]) == 0
    results = {}
    for p in ("int8", "int4"):
        out = root / f"with-{p}"
        results[p] = quantize.quantize_bundle(str(src), str(out), p, log=lambda m: None)
        src = out
    return root, src, results


def test_amused_external_data_variants(amused):
    import onnx

    root, out, results = amused
    m, orig = _manifest(out), _manifest(root / "fp32")
    man.validate(m)
    external = [r for r, g in orig["graphs"].items() if g.get("externalData")]
    assert set(external) == {"textEncoder", "base", "decoder"}
    files = {f["path"]: f for f in m["files"]}
    for f in orig["files"]:  # the fp32 graphs and their data files, unchanged
        assert files[f["path"]] == f
    assert {r: set(g.get("variants", {})) for r, g in m["graphs"].items()} == {
        "textEncoder": {"int8", "int4"}, "base": {"int8", "int4"}, "head": {"int8", "int4"}, "decoder": {"int8"}}
    for r, g in m["graphs"].items():
        fp32_bytes = files[g["file"]]["bytes"] + sum(files[f]["bytes"] for f in g.get("externalData", []))
        for p, v in g["variants"].items():
            model = onnx.load(str(out / v["file"]), load_external_data=False)
            assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer), (r, p)
            if fp32_bytes > 100_000:  # the small head (656 parameters) grows by the quantization's own nodes
                assert files[v["file"]]["bytes"] < fp32_bytes, (r, p)
    # the text encoder's token embedding (most of its weights) is 4-bit in int4 (its graph is valid at opset 21,
    # which GatherBlockQuantized needs); the U-ViT's is not (opset-17 ReduceMean), and its int4 graph still loads
    assert "GatherBlockQuantized" in _ops(out / "textEncoder.int4.onnx")
    assert "GatherBlockQuantized" not in _ops(out / "base.int4.onnx")
    # onnx's own loader refuses the hard-linked data files this command writes; quantize reads them itself
    assert os.stat(out / "base.onnx.00.data").st_nlink > 1
    for p, res in results.items():
        for role, outs in res["errors"].items():
            tol = DECODER_INT8_TOLERANCE if (role, p) == ("decoder", "int8") else TOLERANCE[p]
            for name, e in outs.items():
                assert 0 < e["l2"] <= tol, f"{p} {role}.{name}: {e}"


def test_amused_variants_load_and_generate(amused, tmp_path):
    """The Node backend reads only each dtype's files (the variants, not the fp32 data files), runs every graph in
    that precision, encodes a prompt and generates (precision-speed.mjs: one child per dtype, N = 2)."""
    _, out, _ = amused
    _wait_for_cli_build()
    res = subprocess.run(["node", SPEED, "--bundle", str(out), "--dtypes", "fp32,int8,int4", "--steps", "2",
                          "--out", str(tmp_path / "speed.json")],
                         capture_output=True, text=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))
    assert res.returncode == 0, res.stderr
    rows = {r["dtype"]: r for r in json.loads((tmp_path / "speed.json").read_text())["rows"]}
    roles = ("textEncoder", "base", "head", "decoder")
    assert rows["fp32"]["precision"] == dict.fromkeys(roles, "fp32")
    assert rows["int8"]["precision"] == dict.fromkeys(roles, "int8")
    assert rows["int4"]["precision"] == {"textEncoder": "int4", "base": "int4", "head": "int4", "decoder": "fp32"}
    m = _manifest(out)
    size = {f["path"]: f["bytes"] for f in m["files"]}
    want = sum(size[m["graphs"][r]["variants"]["int8"]["file"]] for r in roles) + size["tokenizer.json"]
    assert abs(rows["int8"]["downloadMB"] * 1e6 - want) < 1
    for r in rows.values():
        assert r["msText"] is not None and r["msFullStep"] > 0 and r["sDecode"] > 0 and r["sPerImageShortcut"] is None


def test_amused_fp16_stored_graphs_refused(amused, tmp_path, capsys):
    root, _, _ = amused
    assert cli.main(["import-amused", "--model", str(root / "model"), "--out", str(tmp_path / "b16"), "--dtype", "fp16"]) == 0
    capsys.readouterr()
    assert cli.main(["quantize", "--bundle", str(tmp_path / "b16"), "--out", str(tmp_path / "q"), "--precision", "int8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is stored in fp16; quantize reads fp32 graphs" in err[0], err
    assert not (tmp_path / "q").exists()
