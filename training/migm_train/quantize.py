"""`python -m migm_train quantize`: fp16, int8 and int4 variants of any bundle's graphs, made with onnxruntime's own
Python quantization tools (no hand-written kernels), listed in the manifest next to the fp32 graph they came from.

- int8: `onnxruntime.quantization.quantize_dynamic` (weights int8 per output channel, activations quantized at
  run time: DynamicQuantizeLinear + MatMulInteger). MatMul and Gemm with constant weights only.
- int4: `MatMulNBitsQuantizer` (weight-only, symmetric, blocks of 32 along K, onnxruntime's `MatMulNBits` on its
  CPU, wasm and WebGPU providers). MatMul with constant weights only.
- fp16: `onnxruntime.transformers.float16.convert_float_to_float16` with float32 inputs and outputs kept, so the
  variant has the same tensors as the fp32 graph. It computes in fp16 where the device can (WebGPU with
  shader-f16); backends fall back to the fp32 file elsewhere.

The output is a new bundle: every file of the input, unchanged (the fp32 graphs stay the bundle's identity; a
shortcut's compatibility.baseSha256 keeps naming the fp32 base), plus `<role>.<precision>.onnx` per quantized
graph, listed in files and under `graphs.<role>.variants.<precision>`. Variants of several precisions are made
by running the command again on its own output. Everything is written into a temporary folder beside --out and
moved into place only when the manifest validates: on any error nothing is left at --out.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from . import manifest as man

PRECISIONS = ("fp16", "int8", "int4")
GRAPHS = ("base", "shortcut", "head", "decoder", "classifier")
DEFAULT_GRAPHS = ("base", "shortcut", "head", "decoder")
INT4_BLOCK = 32
# The operators whose constant weights the int8 and int4 paths quantize (convolutions stay fp32: quantizing them,
# onnxruntime's ConvInteger, was not tried).
QUANTIZABLE = ("MatMul", "Gemm")


class QuantizeError(ValueError):
    """A bad argument or bundle; the message says what, and nothing was written."""


def _onnx():
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the interpreter
        raise QuantizeError("onnx and onnxruntime are not importable here; run the toolkit with "
                            "training/.venv/bin/python (made by scripts/setup.sh)") from exc
    return onnx


def parse_graphs(text: str | None) -> tuple[str, ...]:
    if text is None:
        return DEFAULT_GRAPHS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in GRAPHS]
    if not names or bad:
        raise QuantizeError(f"--graphs: unknown graph {', '.join(bad) or '(none given)'}; allowed: {', '.join(GRAPHS)}")
    return names


def _matmul_weights(model) -> int:
    """Number of MatMul/Gemm nodes whose second input is an initializer (what the quantizers act on)."""
    inits = {i.name for i in model.graph.initializer}
    return sum(1 for n in model.graph.node if n.op_type in QUANTIZABLE and len(n.input) > 1 and n.input[1] in inits)


def quantize_graph(src: str, dst: str, precision: str, affine: bool = False) -> str:
    """Writes the `precision` variant of the ONNX file `src` to `dst`; returns a one-line description. `affine`:
    keep the graph affine in its input (weight-only int4 with float32 arithmetic)."""
    import logging

    # onnxruntime's quantizers log every node at INFO and suggest pre-processing at WARNING on the root logger.
    logging.disable(logging.WARNING)
    try:
        return _quantize_graph(src, dst, precision, affine)
    finally:
        logging.disable(logging.NOTSET)


def _quantize_graph(src: str, dst: str, precision: str, affine: bool) -> str:
    onnx = _onnx()
    model = onnx.load(src)
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        # keep_io_types: same float32 inputs and outputs as the fp32 graph (the manifest's tensors hold).
        out = convert_float_to_float16(model, keep_io_types=True)
        onnx.save(out, dst)
        return "onnxruntime float16 conversion, float32 inputs and outputs"
    if _matmul_weights(model) == 0:
        raise QuantizeError(f"{os.path.basename(src)} has no MatMul or Gemm with constant weights: "
                            f"{precision} would change nothing (leave it out of --graphs)")
    if precision == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(src, dst, op_types_to_quantize=list(QUANTIZABLE), per_channel=True,
                         weight_type=QuantType.QInt8, extra_options={"MatMulConstBOnly": True})
        return "onnxruntime quantize_dynamic: int8 weights per channel, uint8 activations at run time"
    if precision == "int4":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        # accuracy_level 4: the CPU provider multiplies in int8 (activations quantized per block), the fast
        # path on VNNI; WebGPU and wasm ignore it. An affine head keeps float32 arithmetic (level 0): quantized
        # activations would break head(a x + (1 - a) y) = a head(x) + (1 - a) head(y), which guidance relies on.
        level = 0 if affine else 4
        q = MatMulNBitsQuantizer(model, bits=4, block_size=INT4_BLOCK, is_symmetric=True, accuracy_level=level,
                                 op_types_to_quantize=("MatMul",))
        q.process()
        q.model.save_model_to_file(dst, use_external_data_format=False)
        return f"onnxruntime MatMulNBits: int4 weights, symmetric, blocks of {INT4_BLOCK}, accuracy level {level}"
    raise QuantizeError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")


# --- relative output error against fp32 -----------------------------------------------------------------

def _dims(spec: dict, batch: int, n: int) -> list[int]:
    return [batch if d == "batch" else n if isinstance(d, str) else d for d in spec["shape"]]


def example_feeds(manifest: dict, bundle: str, role: str, batch: int = 4, seed: int = 0) -> dict:
    """Inputs like a generation step's: half-masked tokens, real classes, the fp32 base's features."""
    import onnxruntime as ort

    rng = np.random.default_rng(seed)
    tok = manifest["tokens"]
    L, K = tok["count"], tok["codebookSize"]
    C = manifest["condition"].get("numClasses", 1)
    tokens = rng.integers(0, K, size=(batch, L))
    masked = rng.random((batch, L)) < 0.5
    tokens = np.where(masked, tok["maskId"], tokens)
    if role in ("base", "head", "shortcut"):
        spec = manifest["graphs"]["base"]
        ins = spec["inputs"]
        feeds = {ins["tokens"]["name"]: tokens.astype(ins["tokens"]["dtype"])}
        if "classes" in ins:
            feeds[ins["classes"]["name"]] = rng.integers(0, C + 1, size=(batch,)).astype(ins["classes"]["dtype"])
        if role == "base":
            return feeds
        sess = ort.InferenceSession(os.path.join(bundle, spec["file"]), providers=["CPUExecutionProvider"])
        outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        feature = outs[spec["outputs"]["feature"]["name"]]
        g = manifest["graphs"][role]["inputs"]
        if role == "head":
            return {g["feature"]["name"]: feature}
        n = 4
        pos = np.stack([rng.permutation(L)[:n] for _ in range(batch)])
        return {g["feature"]["name"]: feature,
                g["newTokens"]["name"]: rng.integers(0, K, size=(batch, n)).astype(g["newTokens"]["dtype"]),
                g["newPositions"]["name"]: pos.astype(g["newPositions"]["dtype"]),
                g["ratio"]["name"]: rng.uniform(0.05, 0.5, size=(batch,)).astype(np.float32)}
    feeds = {}
    for t in manifest["graphs"][role]["inputs"].values():
        shape = _dims(t, batch, 4)
        if t["dtype"].startswith("int"):
            feeds[t["name"]] = rng.integers(0, K, size=shape).astype(t["dtype"])
        else:
            feeds[t["name"]] = rng.random(shape, dtype=np.float32)
    return feeds


def relative_errors(manifest: dict, bundle: str, role: str, variant_file: str, batch: int = 4, seed: int = 0) -> dict:
    """Per output: ||v - f|| / ||f|| (L2 over the batch) and max|v - f| / max|f| of the variant against fp32."""
    import onnxruntime as ort

    feeds = example_feeds(manifest, bundle, role, batch, seed)
    res = {}
    runs = []
    for f in (manifest["graphs"][role]["file"], variant_file):
        s = ort.InferenceSession(os.path.join(bundle, f), providers=["CPUExecutionProvider"])
        runs.append(dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds))))
    for t in manifest["graphs"][role]["outputs"].values():
        f, v = runs[0][t["name"]].astype(np.float64), runs[1][t["name"]].astype(np.float64)
        res[t["name"]] = {"l2": float(np.linalg.norm(v - f) / max(np.linalg.norm(f), 1e-30)),
                          "max": float(np.abs(v - f).max() / max(np.abs(f).max(), 1e-30))}
    return res


# --- the command -----------------------------------------------------------------------------------------

def _check_out(out: str, bundle: str) -> None:
    if os.path.abspath(out) == os.path.abspath(bundle):
        raise QuantizeError("--out must differ from --bundle (the output is a new bundle)")
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise QuantizeError(f"--out: {out} exists and is not an empty folder")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise QuantizeError(f"--out: the folder {parent} does not exist")


def _copy_file(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # bundle files are never modified in place: a hard link saves the disk of a copy
    except OSError:
        shutil.copyfile(src, dst)


def quantize_bundle(bundle: str, out: str, precision: str, graphs: tuple[str, ...] | None = None,
                    log=print) -> dict:
    """Writes a copy of `bundle` at `out` with the `precision` variant of each of `graphs` (default: every one of
    base, shortcut, head, decoder in the bundle that has weights to quantize, an affine head left out); returns the new manifest and, under
    the key "errors", each variant's relative output error against its fp32 graph."""
    if precision not in PRECISIONS:
        raise QuantizeError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    path = os.path.join(bundle, "manifest.json")
    if not os.path.isfile(path):
        raise QuantizeError(f"--bundle: {path} does not exist")
    with open(path) as fh:
        manifest = json.load(fh)
    try:
        man.validate(manifest)
    except man.ManifestError as exc:
        raise QuantizeError(f"--bundle: {exc}") from exc
    explicit = graphs is not None
    roles = graphs if explicit else tuple(r for r in DEFAULT_GRAPHS if r in manifest["graphs"])
    missing = [r for r in roles if r not in manifest["graphs"]]
    if missing:
        raise QuantizeError(f"--graphs: the bundle has no {', '.join(missing)} graph "
                            f"(it has {', '.join(manifest['graphs'])})")
    # An affine head (graphs.head.affine) must stay affine: int8 and fp16 quantize or round its activations,
    # so they are refused for it; int4 keeps float32 arithmetic there. By default the head is left out: it is
    # small (K x D) and runs once per skipped step.
    affine_head = manifest["graphs"].get("head", {}).get("affine") is True
    if affine_head and "head" in roles:
        if not explicit:
            roles = tuple(r for r in roles if r != "head")
        elif precision != "int4":
            raise QuantizeError(f"--graphs: the head is declared affine (graphs.head.affine) and {precision} "
                                f"would break that (activations quantized or rounded); int4 keeps it")
    for r in roles:
        if precision in manifest["graphs"][r].get("variants", {}):
            raise QuantizeError(f"graph {r} already has a {precision} variant")
        if manifest["graphs"][r].get("externalData"):
            raise QuantizeError(f"graph {r} keeps its weights in external data; quantizing those is not supported")
    if precision != "fp16":  # a graph without weights to quantize is skipped unless named explicitly
        onnx = _onnx()
        plain = [r for r in roles if _matmul_weights(onnx.load(os.path.join(bundle, manifest["graphs"][r]["file"]))) == 0]
        if explicit and plain:
            raise QuantizeError(f"--graphs: {', '.join(plain)} has no MatMul or Gemm with constant weights; "
                                f"{precision} would change nothing")
        roles = tuple(r for r in roles if r not in plain)
        if not roles:
            raise QuantizeError(f"no graph of the bundle has weights that {precision} would quantize")
    _check_out(out, bundle)
    tmp = tempfile.mkdtemp(prefix=".quantize-", dir=os.path.dirname(os.path.abspath(out)))
    try:
        for f in manifest["files"]:
            _copy_file(os.path.join(bundle, f["path"]), os.path.join(tmp, f["path"]))
        errors = {}
        for role in roles:
            g = manifest["graphs"][role]
            rel = f"{os.path.splitext(g['file'])[0]}.{precision}.onnx"
            if any(f["path"] == rel for f in manifest["files"]):
                raise QuantizeError(f"the bundle already has a file {rel}")
            log(f"quantize: {role} -> {rel} ({precision})")
            how = quantize_graph(os.path.join(tmp, g["file"]), os.path.join(tmp, rel), precision,
                                 affine=role == "head" and g.get("affine") is True)
            manifest["files"].append(man.file_entry(tmp, rel))
            g.setdefault("variants", {})[precision] = {"file": rel, "method": how}
            errors[role] = relative_errors(manifest, tmp, role, rel)
        man.write(manifest, tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        if os.path.isdir(out):
            os.rmdir(out)  # empty (checked above)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"manifest": manifest, "errors": errors}


def main(args) -> int:
    import sys

    try:
        graphs = parse_graphs(args.graphs)
        res = quantize_bundle(args.bundle, args.out, args.precision, graphs if args.graphs is not None else None,
                              log=lambda msg: print(msg, file=sys.stderr))
    except (QuantizeError, man.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = {f["path"]: f["bytes"] for f in res["manifest"]["files"]}
    print(f"{'graph':<10} {'file':<24} {'MB':>8} {'fp32 MB':>8} {'rel. L2 error':>14} {'rel. max error':>15}")
    for role, errs in res["errors"].items():
        g = res["manifest"]["graphs"][role]
        v = g["variants"][args.precision]["file"]
        l2 = max(e["l2"] for e in errs.values())
        mx = max(e["max"] for e in errs.values())
        print(f"{role:<10} {v:<24} {files[v] / 1e6:8.2f} {files[g['file']] / 1e6:8.2f} {l2:14.2e} {mx:15.2e}")
    return 0
