"""`python -m migm_train quantize`: fp16, int8 and int4 variants of any bundle's graphs, made with onnxruntime's own
Python quantization tools (no hand-written kernels), listed in the manifest next to the fp32 graph they came from.

- int8: `onnxruntime.quantization.quantize_dynamic` for matrix weights (MatMul and Gemm with constant weights:
  int8 per output channel, activations quantized at run time, DynamicQuantizeLinear + MatMulInteger) and embedding
  tables (Gather from a constant float table: int8 table + DequantizeLinear). Convolutions, where they hold a
  real share of a graph's weights (the VQ decoders), are quantized statically (`quantize_static`, QDQ format:
  int8 weights per output channel, uint8 activations with ranges calibrated on a few of the graph's own example
  inputs; onnxruntime fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv). The dynamic path for
  convolutions (ConvInteger) is not used: on this 2-core CPU it made the paper-size VQGAN decoder 6-10x slower
  than fp32 (68-110 s against 10-13 s per image), while the QDQ one ran no slower (8-11 s), at the same 44 MB.
  An affine head (graphs.head.affine) gets weight-only int8 (`MatMulNBits` with 8 bits, float32 arithmetic) so it
  stays affine.
- int4: `MatMulNBitsQuantizer` (weight-only, symmetric, blocks of 32 along K, onnxruntime's `MatMulNBits` on its
  CPU, wasm and WebGPU providers) for MatMul with constant weights, and `GatherBlockQuantized` for embedding
  tables where the graph stays valid at opset 21 (which that path raises it to); convolutions stay fp32
  (onnxruntime has no 4-bit convolution).
- fp16: `onnxruntime.transformers.float16.convert_float_to_float16` with float32 inputs and outputs kept, so the
  variant has the same tensors as the fp32 graph. It computes in fp16 where the device can (WebGPU with
  shader-f16); backends fall back to the fp32 file elsewhere.

Every onnxruntime build the project uses runs these operators: onnxruntime-node and onnxruntime-web's wasm
(MatMulInteger, DynamicQuantizeLinear, QLinearConv / QDQ, MatMulNBits with 4 and 8 bits,
GatherBlockQuantized; checked on 1.30).

The output is a new bundle: every file of the input, unchanged (the fp32 graphs stay the bundle's identity; a
shortcut's compatibility.baseSha256 keeps naming the fp32 base), plus `<role>.<precision>.onnx` per quantized
graph, listed in files and under `graphs.<role>.variants.<precision>`. A graph whose fp32 weights are in external
data files (graphs.<role>.externalData: aMUSEd's text encoder, base and decoder) is read with them; its variant
is written as one self-contained file (int8, int4 and fp16 all fit protobuf's 2 GiB limit for the graphs the
project ships; a variant that would not is refused). Variants of several precisions are made by running the
command again on its own output. Everything is written into a temporary folder beside --out and moved into place
only when the manifest validates: on any error nothing is left at --out.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np

from . import manifest as man
from .staging import check_out, staged

PRECISIONS = ("fp16", "int8", "int4")
GRAPHS = ("textEncoder", "base", "shortcut", "head", "decoder", "classifier")
DEFAULT_GRAPHS = ("textEncoder", "base", "shortcut", "head", "decoder")
INT4_BLOCK = 32
INT8_AFFINE_BLOCK = 32
# Convolutions are quantized (static QDQ) only in a graph where they hold at least this share of the float
# weights: the VQ decoders (~100%), not aMUSEd's U-ViT (four small 1x1 convolutions among 600 M parameters),
# whose calibration would cost a run of the whole graph with every intermediate tensor kept.
CONV_SHARE = 0.10
# By default a graph is skipped when the precision would touch less than this share of its float weights.
MIN_SHARE = 0.05
CALIBRATION_RUNS = 4  # example inputs (batch 1) the static path calibrates activation ranges on
MAX_BYTES = (1 << 31) - 1  # protobuf's limit for one serialized model; a manifest file is at most 2 GiB too
QUANTIZABLE = ("MatMul", "Gemm")  # matrix weights (input 1 a constant)


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


def weight_bytes(model) -> dict:
    """Bytes of float32 constant weights by what uses them: "matmul" (MatMul/Gemm input 1), "conv" (Conv input 1),
    "gather" (a 2-D table Gather reads rows of), "total" (every float32 initializer), and "fp16" (bytes of float16
    initializers: a graph stored in float16). Reads only the tensors'
    shapes, so a model loaded without its external data will do."""
    onnx = _onnx()
    size, fp16 = {}, 0
    for t in model.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT:
            size[t.name] = 4 * int(np.prod(t.dims, dtype=np.int64))
        elif t.data_type == onnx.TensorProto.FLOAT16:
            fp16 += 2 * int(np.prod(t.dims, dtype=np.int64))
    out = {"matmul": 0, "conv": 0, "gather": 0, "total": sum(size.values()), "fp16": fp16}
    seen = set()
    for n in model.graph.node:
        kind, w = None, None
        if n.op_type in QUANTIZABLE and len(n.input) > 1:
            kind, w = "matmul", n.input[1]
        elif n.op_type == "Conv" and len(n.input) > 1:
            kind, w = "conv", n.input[1]
        elif n.op_type == "Gather" and n.input:
            kind, w = "gather", n.input[0]
        if w in size and w not in seen:
            if kind == "gather" and len(next(t for t in model.graph.initializer if t.name == w).dims) != 2:
                continue
            seen.add(w)
            out[kind] += size[w]
    return out


def plan(weights: dict, precision: str, affine: bool = False, tables: bool = True) -> tuple[str, ...]:
    """The kinds of weights (matmul, conv, gather) `precision` quantizes in a graph with these `weight_bytes`.
    `tables` False leaves embedding tables (gather) in float32."""
    if precision == "fp16":
        return ("all",) if weights["total"] else ()
    if affine:
        return ("matmul",) if weights["matmul"] else ()
    table_kinds = ("matmul", "gather") if tables else ("matmul",)
    if precision == "int4":
        return tuple(k for k in table_kinds if weights[k])
    kinds = [k for k in table_kinds if weights[k]]
    if weights["conv"] and weights["conv"] >= CONV_SHARE * weights["total"]:
        kinds.append("conv")
    return tuple(kinds)


def share(weights: dict, kinds: tuple[str, ...]) -> float:
    if "all" in kinds:
        return 1.0
    return sum(weights[k] for k in kinds) / max(weights["total"], 1)


def quantize_graph(src: str, dst: str, precision: str, affine: bool = False, calibration=None,
                   tables: bool = True) -> str:
    """Writes the `precision` variant of the ONNX file `src` (its external data, if any, beside it) to `dst` as
    one self-contained file; returns a one-line description. `affine`: keep the graph affine in its input
    (weight-only int8 / int4 with float32 arithmetic). `calibration`: a function returning a list of example
    input feeds, for the static path of convolutions (int8 only). `tables` False keeps embedding tables float32."""
    import logging

    # onnxruntime's quantizers log every node at INFO and suggest pre-processing at WARNING on the root logger.
    logging.disable(logging.WARNING)
    try:
        how = _quantize_graph(src, dst, precision, affine, calibration, tables)
    finally:
        logging.disable(logging.NOTSET)
    _check_self_contained(dst)
    return how


def _check_self_contained(path: str) -> None:
    onnx = _onnx()
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise QuantizeError(f"the variant {os.path.basename(path)} is {size / 2**30:.2f} GiB, over the 2 GiB limit "
                            f"of one ONNX file; variants with external data are not supported")
    m = onnx.load(path, load_external_data=False)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer):
        raise QuantizeError(f"the variant {os.path.basename(path)} refers to external data")


def load_model(path: str):
    """The ONNX model at `path` with its external data (if any) read into it from the files beside it. onnx's own
    loader refuses a data file with more than one hard link, which is what this command's outputs (and copies
    made with `cp -l`) are; the locations were checked when the bundle was made, and are checked again here: plain
    names in the model's folder, the bytes inside the file."""
    onnx = _onnx()
    folder = os.path.dirname(os.path.abspath(path))
    model = onnx.load(path, load_external_data=False)
    handles = {}
    try:
        for t in model.graph.initializer:
            if t.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in t.external_data}
            loc = info.get("location", "")
            if not loc or loc != os.path.basename(loc) or loc in (".", ".."):
                raise QuantizeError(f"{os.path.basename(path)}: tensor {t.name} has external data at {loc!r}, "
                                    f"not a plain file name beside the graph")
            fh = handles.get(loc) or handles.setdefault(loc, open(os.path.join(folder, loc), "rb"))
            offset, length = int(info.get("offset", 0)), info.get("length")
            fh.seek(offset)
            data = fh.read() if length is None else fh.read(int(length))
            if length is not None and len(data) != int(length):
                raise QuantizeError(f"{os.path.basename(path)}: tensor {t.name}'s external data ends past {loc}")
            t.raw_data = data
            t.data_location = onnx.TensorProto.DEFAULT
            del t.external_data[:]
    finally:
        for fh in handles.values():
            fh.close()
    return model


def _valid_at_opset(path: str, opset: int) -> bool:
    """Whether every standard-domain node of the graph at `path` is valid at `opset`: the 4-bit embedding path
    (GatherBlockQuantized) raises the graph's opset to 21, which breaks operators whose attributes became inputs
    since (ReduceMean's axes at opset 18, in aMUSEd's U-ViT). Checks the nodes only (no weights read)."""
    onnx = _onnx()
    model = onnx.load(path, load_external_data=False)
    ctx = onnx.checker.C.CheckerContext()
    ctx.ir_version = model.ir_version
    ctx.opset_imports = {"": opset}
    for n in model.graph.node:
        if n.domain in ("", "ai.onnx"):
            try:
                onnx.checker.check_node(n, ctx)
            except onnx.checker.ValidationError:
                return False
    return True


def _save(model, dst: str) -> None:
    onnx = _onnx()
    try:
        onnx.save(model, dst)
    except ValueError as exc:  # protobuf's 2 GiB limit
        raise QuantizeError(f"the variant {os.path.basename(dst)} does not fit one ONNX file (2 GiB): {exc}") from exc


class _Feeds:
    """onnxruntime's CalibrationDataReader protocol over a list of feeds."""

    def __init__(self, feeds: list):
        self._it = iter(feeds)

    def get_next(self):
        return next(self._it, None)


def _quantize_graph(src: str, dst: str, precision: str, affine: bool, calibration, tables: bool) -> str:
    onnx = _onnx()
    if precision not in PRECISIONS:
        raise QuantizeError(f"--precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    weights = weight_bytes(onnx.load(src, load_external_data=False))
    kinds = plan(weights, precision, affine, tables)
    if not kinds:
        raise QuantizeError(f"{os.path.basename(src)} has no weights that {precision} quantizes "
                            f"(MatMul or Gemm with constant weights{'' if precision == 'int4' or affine else ', convolutions, embedding tables'})")
    if precision == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = load_model(src)
        # keep_io_types: same float32 inputs and outputs as the fp32 graph (the manifest's tensors hold). onnx's
        # shape inference refuses a model over 2 GiB; the converter then works from the graph's own types.
        out = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=weights["total"] > MAX_BYTES // 2)
        _save(out, dst)
        return "onnxruntime float16 conversion, float32 inputs and outputs"
    if precision == "int4" or affine:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        bits = 4 if precision == "int4" else 8
        block = INT4_BLOCK if bits == 4 else INT8_AFFINE_BLOCK
        # accuracy_level 4: the CPU provider multiplies in int8 (activations quantized per block), the fast
        # path on VNNI; WebGPU and wasm ignore it. An affine head keeps float32 arithmetic (level 0): quantized
        # activations would break head(a x + (1 - a) y) = a head(x) + (1 - a) head(y), which guidance relies on.
        level = 0 if affine else 4
        if "gather" in kinds and not _valid_at_opset(src, 21):
            kinds = tuple(k for k in kinds if k != "gather")
        ops = ("MatMul", "Gather") if "gather" in kinds else ("MatMul",)
        q = MatMulNBitsQuantizer(load_model(src), bits=bits, block_size=block, is_symmetric=True, accuracy_level=level,
                                 op_types_to_quantize=ops)
        q.process()
        _save(q.model.model, dst)
        return (f"onnxruntime MatMulNBits: int{bits} weights, symmetric, blocks of {block}, accuracy level {level}"
                + (", embedding tables GatherBlockQuantized" if "gather" in kinds else "")
                + (" (weight-only: the graph stays affine)" if affine else ""))
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    parts = []
    work = tempfile.mkdtemp(prefix=".int8-", dir=os.path.dirname(os.path.abspath(dst)))
    try:
        cur = load_model(src)
        if "conv" in kinds:
            if calibration is None:
                raise QuantizeError(f"{os.path.basename(src)}: int8 convolutions need calibration inputs")
            conv_done = os.path.join(work, "conv.onnx")
            quantize_static(cur, conv_done, _Feeds(calibration()), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            cur = load_model(conv_done)
            parts.append(f"convolutions static QDQ (int8 weights per channel, uint8 activations calibrated on "
                         f"{CALIBRATION_RUNS} example inputs)")
        ops = [op for k, op in (("matmul", "MatMul"), ("matmul", "Gemm"), ("gather", "Gather")) if k in kinds]
        if ops:
            quantize_dynamic(cur, dst, op_types_to_quantize=ops, per_channel=True, weight_type=QuantType.QInt8,
                             extra_options={"MatMulConstBOnly": True})
            parts.insert(0, "quantize_dynamic: int8 weights per channel, uint8 activations at run time"
                         + (", int8 embedding tables" if "gather" in kinds else ""))
        else:
            shutil.move(conv_done, dst)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return "onnxruntime " + "; ".join(parts)


# --- relative output error against fp32 -----------------------------------------------------------------

def _dims(spec: dict, batch: int, n: int) -> list[int]:
    return [batch if d == "batch" else n if isinstance(d, str) else d for d in spec["shape"]]


def _outputs(bundle: str, spec: dict, feeds: dict) -> dict:
    import onnxruntime as ort

    sess = ort.InferenceSession(os.path.join(bundle, spec["file"]), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def _prompt_ids(manifest: dict, batch: int, rng) -> np.ndarray:
    """Token ids like a tokenized prompt's: start, 2..T-2 words, end, padding (CLIP pools at the end token)."""
    cond = manifest["condition"]
    T = cond["maxLength"]
    tk = cond.get("tokenizer", {})
    bos, eos = tk.get("bosId", 49406), tk.get("eosId", 49407)
    ids = np.full((batch, T), tk.get("padId", eos), dtype=np.int64)
    for b in range(batch):
        n = int(rng.integers(2, T - 1))
        ids[b, 0] = bos
        ids[b, 1:n] = rng.integers(0, min(bos, eos), size=n - 1)
        ids[b, n] = eos
    return ids


def example_feeds(manifest: dict, bundle: str, role: str, batch: int = 4, seed: int = 0) -> dict:
    """Inputs like a generation step's: half-masked tokens, real classes or a prompt's text encoding (the fp32
    text encoder's) with the default micro-conditioning, the fp32 base's features; prompt-like token ids for a
    text encoder; random tokens for a decoder."""
    rng = np.random.default_rng(seed)
    graphs = manifest["graphs"]
    tok = manifest["tokens"]
    L, K = tok["count"], tok["codebookSize"]
    if role == "textEncoder":
        t = graphs[role]["inputs"]["inputIds"]
        return {t["name"]: _prompt_ids(manifest, batch, rng).astype(t["dtype"])}
    if role in ("base", "head", "shortcut"):
        tokens = rng.integers(0, K, size=(batch, L))
        tokens = np.where(rng.random((batch, L)) < 0.5, tok["maskId"], tokens)
        spec = graphs["base"]
        ins = spec["inputs"]
        feeds = {ins["tokens"]["name"]: tokens.astype(ins["tokens"]["dtype"])}
        if "classes" in ins:
            C = manifest["condition"].get("numClasses", 1)
            feeds[ins["classes"]["name"]] = rng.integers(0, C + 1, size=(batch,)).astype(ins["classes"]["dtype"])
        if "textStates" in ins or "pooled" in ins:
            te = graphs["textEncoder"]
            enc = _outputs(bundle, te, example_feeds(manifest, bundle, "textEncoder", batch, seed + 1))
            for r in ("textStates", "pooled"):
                if r in ins:
                    feeds[ins[r]["name"]] = enc[te["outputs"][r]["name"]]
        if "microConds" in ins:
            default = manifest["condition"]["microConditioning"]["default"]
            feeds[ins["microConds"]["name"]] = np.tile(np.asarray(default, dtype=np.float32), (batch, 1))
        if "promptIds" in ins:  # a text bundle without a text encoder: the base reads the ids itself
            feeds[ins["promptIds"]["name"]] = _prompt_ids(manifest, batch, rng).astype(ins["promptIds"]["dtype"])
        if role == "base":
            return feeds
        feature = _outputs(bundle, spec, feeds)[spec["outputs"]["feature"]["name"]]
        g = graphs[role]["inputs"]
        if role == "head":
            return {g["feature"]["name"]: feature}
        n = 4
        pos = np.stack([rng.permutation(L)[:n] for _ in range(batch)])
        return {g["feature"]["name"]: feature,
                g["newTokens"]["name"]: rng.integers(0, K, size=(batch, n)).astype(g["newTokens"]["dtype"]),
                g["newPositions"]["name"]: pos.astype(g["newPositions"]["dtype"]),
                g["ratio"]["name"]: rng.uniform(0.05, 0.5, size=(batch,)).astype(np.float32)}
    feeds = {}
    for t in graphs[role]["inputs"].values():
        shape = _dims(t, batch, 4)
        if t["dtype"].startswith("int"):
            feeds[t["name"]] = rng.integers(0, K, size=shape).astype(t["dtype"])
        else:
            feeds[t["name"]] = rng.random(shape, dtype=np.float32)
    return feeds


def calibration_feeds(manifest: dict, bundle: str, role: str) -> list:
    """CALIBRATION_RUNS example inputs of batch 1 (other seeds than the error measurement's)."""
    return [example_feeds(manifest, bundle, role, batch=1, seed=100 + i) for i in range(CALIBRATION_RUNS)]


def relative_errors(manifest: dict, bundle: str, role: str, variant_file: str, batch: int = 4, seed: int = 0) -> dict:
    """Per output: ||v - f|| / ||f|| (L2 over the batch) and max|v - f| / max|f| of the variant against fp32."""
    feeds = example_feeds(manifest, bundle, role, batch, seed)
    res = {}
    runs = [_outputs(bundle, {"file": f}, feeds) for f in (manifest["graphs"][role]["file"], variant_file)]
    for t in manifest["graphs"][role]["outputs"].values():
        f, v = runs[0][t["name"]].astype(np.float64), runs[1][t["name"]].astype(np.float64)
        res[t["name"]] = {"l2": float(np.linalg.norm(v - f) / max(np.linalg.norm(f), 1e-30)),
                          "max": float(np.abs(v - f).max() / max(np.abs(f).max(), 1e-30))}
    return res


# --- the command -----------------------------------------------------------------------------------------

def _check_out(out: str, bundle: str) -> None:
    if os.path.abspath(out) == os.path.abspath(bundle):
        raise QuantizeError("--out must differ from --bundle (the output is a new bundle)")
    check_out(out, QuantizeError)


def _copy_file(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # bundle files are never modified in place: a hard link saves the disk of a copy
    except OSError:
        shutil.copyfile(src, dst)


def quantize_bundle(bundle: str, out: str, precision: str, graphs: tuple[str, ...] | None = None,
                    log=print, tables: bool = True) -> dict:
    """Writes a copy of `bundle` at `out` with the `precision` variant of each of `graphs` (default: each of
    textEncoder, base, shortcut, head, decoder in the bundle where the precision quantizes at least MIN_SHARE of
    its weights; an affine head gets no fp16 variant); returns the new manifest and, under the key "errors", each
    variant's relative output error against its fp32 graph. `tables` False (`--keep-tables`) leaves embedding
    tables in float32: on the default bundle int4 tables doubled the base's error and wrecked its samples
    (BENCHMARKS.md, "Precision variants")."""
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
    # An affine head (graphs.head.affine) must stay affine: int8 and int4 quantize its weights only (float32
    # arithmetic); fp16 would round its activations, so it is refused for it (left out by default).
    affine_head = manifest["graphs"].get("head", {}).get("affine") is True
    if affine_head and "head" in roles and precision == "fp16":
        if not explicit:
            roles = tuple(r for r in roles if r != "head")
        else:
            raise QuantizeError("--graphs: the head is declared affine (graphs.head.affine) and fp16 would break "
                                "that (activations rounded); int8 and int4 keep it")
    onnx = _onnx()
    kinds = {}
    for r in roles:  # what each graph would get; a graph with too little to quantize is skipped unless named
        g = manifest["graphs"][r]
        if precision in g.get("variants", {}):
            raise QuantizeError(f"graph {r} already has a {precision} variant")
        w = weight_bytes(onnx.load(os.path.join(bundle, g["file"]), load_external_data=False))
        stored = g.get("precision", "fp16" if w["fp16"] > w["total"] else "fp32")
        if stored != "fp32":
            raise QuantizeError(f"graph {r} is stored in {stored}; quantize reads fp32 graphs "
                                f"(import the bundle with fp32 weights)")
        kinds[r] = plan(w, precision, affine=r == "head" and affine_head, tables=tables)
        if explicit and not kinds[r]:
            raise QuantizeError(f"--graphs: {r} has no weights that {precision} quantizes "
                                f"({'MatMul' if precision == 'int4' else 'MatMul, Gemm, Conv or Gather'} with constant weights)")
        if not explicit and share(w, kinds[r]) < MIN_SHARE:
            kinds[r] = ()
    roles = tuple(r for r in roles if kinds[r])
    if not roles:
        raise QuantizeError(f"no graph of the bundle has weights that {precision} would quantize")
    _check_out(out, bundle)
    with staged(out, ".quantize-") as tmp:  # files are hard links to --bundle's: their modes stay as they are
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
                                 affine=role == "head" and g.get("affine") is True,
                                 calibration=lambda role=role: calibration_feeds(manifest, tmp, role), tables=tables)
            manifest["files"].append(man.file_entry(tmp, rel))
            g.setdefault("variants", {})[precision] = {"file": rel, "method": how}
            errors[role] = relative_errors(manifest, tmp, role, rel)
        man.write(manifest, tmp)
    return {"manifest": manifest, "errors": errors}


def main(args) -> int:
    import sys

    try:
        graphs = parse_graphs(args.graphs)
        res = quantize_bundle(args.bundle, args.out, args.precision, graphs if args.graphs is not None else None,
                              log=lambda msg: print(msg, file=sys.stderr), tables=not args.keep_tables)
    except (QuantizeError, man.ManifestError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = {f["path"]: f["bytes"] for f in res["manifest"]["files"]}
    print(f"{'graph':<11} {'file':<26} {'MB':>8} {'fp32 MB':>8} {'rel. L2 error':>14} {'rel. max error':>15}")
    for role, errs in res["errors"].items():
        g = res["manifest"]["graphs"][role]
        v = g["variants"][args.precision]["file"]
        l2 = max(e["l2"] for e in errs.values())
        mx = max(e["max"] for e in errs.values())
        fp32 = files[g["file"]] + sum(files[f] for f in g.get("externalData", []))
        print(f"{role:<11} {v:<26} {files[v] / 1e6:8.2f} {fp32 / 1e6:8.2f} {l2:14.2e} {mx:15.2e}")
    return 0
