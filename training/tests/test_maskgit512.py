"""MaskGIT-512 family (issue 17) at the small config: checkpoints in the released layout -> import-maskgit ->
bundle; onnxruntime-node parity for every graph (fp32 and fp16), strict loading and bad-input errors."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

from migm_train import cli, export
from migm_train.maskgit512 import importer
from migm_train.maskgit512.checkpoints import CheckpointMismatchError, ImportMaskgitError, load_strict
from migm_train.maskgit512.shortcut import MaskGitShortcut, ShortcutConfig, ShortcutGraph
from migm_train.maskgit512.transformer import MaskGitTransformer, TransformerConfig, pack, unpack
from migm_train.maskgit512.vqgan import VqganDecoder
from migm_train.env import TRAINING_DIR

ORT_RUN = os.path.join(TRAINING_DIR, "scripts", "ort-run.mjs")
FP32_TOL = 1e-4
# fp16-stored weights against the fp32 PyTorch modules, relative to the output's largest magnitude
# (measured at the small config: at most 1.4e-3; see docs/paper-model.md).
FP16_REL_TOL = 5e-3


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("mg")
    base, vq, sc = importer.random_models(importer.CONFIGS["small"](), seed=3)
    paths = importer.write_reference_files(base, vq, sc, str(root / "released"))
    return root, paths


def _import(paths, out, *extra, shortcut=True):
    argv = ["import-maskgit", "--vit", paths["vit"], "--vqgan", paths["vqgan"], "--out", str(out), "--heads", "4",
            "--shortcut-heads", "4", *extra]
    if shortcut and "shortcut" in paths:
        argv += ["--shortcut", paths["shortcut"]]
    return cli.main(argv)


@pytest.fixture(scope="module")
def bundles(files):
    root, paths = files
    out = {}
    for dtype in ("fp32", "fp16"):
        assert _import(paths, root / f"bundle-{dtype}", "--dtype", dtype) == 0
        out[dtype] = root / f"bundle-{dtype}"
    base, vq, sc, _ = importer.load_models(paths["vit"], paths["vqgan"], paths["shortcut"], 4, 4)
    return out, importer.graph_modules(base, vq, sc), base.cfg


def _ort(model, inputs, tmp_path) -> dict:
    spec = {k: {"dtype": str(v.dtype), "dims": list(v.shape), "data": v.flatten().tolist()} for k, v in inputs.items()}
    path = tmp_path / "in.json"
    path.write_text(json.dumps(spec))
    res = subprocess.run(["node", ORT_RUN, str(model), str(path)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"), cwd=TRAINING_DIR)
    return json.loads(res.stdout)


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("role", ["base", "head", "shortcut", "decoder"])
def test_onnx_parity(bundles, role, dtype, tmp_path):
    dirs, mods, tc = bundles
    manifest = json.loads((dirs[dtype] / "manifest.json").read_text())
    spec = manifest["graphs"][role]
    # batch 3, n = 7: not the export example's (2, 5), so the dynamic axes are really dynamic
    inputs = importer.example_inputs(role, tc, 3, 7, seed=11)
    want = export.run_torch(mods[role], inputs)
    got = _ort(dirs[dtype] / spec["file"], inputs, tmp_path)
    for tensor, w in zip(spec["outputs"].values(), want):
        g = np.array(got[tensor["name"]]["data"], dtype=np.float32).reshape(got[tensor["name"]]["dims"])
        assert list(g.shape) == list(w.shape)
        err = float(np.abs(g - w).max())
        if dtype == "fp32":
            assert err <= FP32_TOL, f"{role}.{tensor['name']}: {err}"
        else:
            assert err <= FP16_REL_TOL * max(1.0, float(np.abs(w).max())), f"{role}.{tensor['name']}: {err}"


def test_manifest(bundles):
    dirs, _, tc = bundles
    m = json.loads((dirs["fp32"] / "manifest.json").read_text())
    assert m["tokens"] == {"grid": [4, 4], "count": 16, "codebookSize": 16, "maskId": 16, "patchSize": 2}
    assert m["condition"]["nullClassId"] == m["condition"]["numClasses"] == 10
    assert m["featureDim"] == 34  # D + ceil(D / L) = 32 + 2: the class position's feature packed in
    assert m["graphs"]["shortcut"]["compatibility"]["featureDim"] == 34
    assert m["image"] == {"width": 8, "height": 8, "channels": 3, "range": [0, 1]}
    assert m["sampling"]["schedule"] == "arccos" and m["sampling"]["guidance"] == {"scale": 2.8, "schedule": "linear"}
    assert m["sampling"]["randomizeTemperature"] == 7.0
    assert m["graphs"]["head"]["affine"] is True
    assert m["training"]["vqganKeysNotUsed"] == 3  # the fake encoder, quant_conv and loss keys
    assert set(m["graphs"]) == {"base", "head", "shortcut", "decoder"}
    for f in m["files"]:  # no external data: every graph is one file
        assert f["path"].endswith(".onnx") and (dirs["fp32"] / f["path"]).stat().st_size == f["bytes"]
    assert sorted(os.listdir(dirs["fp32"])) == sorted([f["path"] for f in m["files"]] + ["manifest.json"])


def test_class_ids_follow_the_reference_layout():
    tc = TransformerConfig(dim=8, depth=1, heads=2, mlp=16, grid=2, codebook=5, num_classes=3)
    base = MaskGitTransformer(tc)
    # bundle class c -> token id K + 1 + c; the unconditional bundle id C -> K + 1 + C (the reference's drop id)
    assert base.class_ids(torch.tensor([0, 2, 3])).tolist() == [6, 8, 9]
    assert tc.vocab == 5 + 1 + 3 + 1


def test_paper_architecture_keys_and_shapes():
    cfg = importer.CONFIGS["paper"]()
    base = MaskGitTransformer(cfg.transformer)
    sd = {k: list(v.shape) for k, v in base.state_dict().items()}
    assert sd["tok_emb.weight"] == [2026, 768] and sd["pos_emb"] == [1, 1025, 768] and sd["bias"] == [1025, 2026]
    assert sd["transformer.layers.23.0.fn.mha.in_proj_weight"] == [2304, 768]
    assert sd["transformer.layers.23.1.fn.net.0.weight"] == [3072, 768]
    assert sd["first_layer.6.weight"] == [768, 768] and sd["last_layer.4.weight"] == [768]
    assert "transformer.layers.24.0.norm.weight" not in sd
    assert 170e6 < sum(v.numel() for v in base.state_dict().values()) < 180e6
    sc = MaskGitShortcut.for_base(cfg.shortcut, base)
    ssd = {k: list(v.shape) for k, v in sc.state_dict().items()}
    assert "wte" not in ssd and "wpe" not in ssd  # non-persistent buffers, as the reference
    assert ssd["proj_in.weight"] == [384, 768] and ssd["new_token_proj_in.weight"] == [384, 768]
    assert ssd["blocks.0.self_attn.fn.mha.in_proj_weight"] == [1152, 384]
    assert ssd["blocks.0.cross_attn_ff.fn.net.3.weight"] == [384, 1536]
    assert ssd["time_embedder.mlp.0.weight"] == [314, 256] and ssd["adaLN_modulation.weight"] == [768, 384]
    assert ssd["last_layer.3.weight"] == [384]
    assert 4e6 < sum(v.numel() for v in sc.state_dict().values()) < 6e6
    vq = VqganDecoder(cfg.vqgan)
    vsd = {k: list(v.shape) for k, v in vq.state_dict().items()}
    assert vsd["quantize.embedding.weight"] == [1024, 256] and vsd["post_quant_conv.weight"] == [256, 256, 1, 1]
    assert vsd["decoder.conv_in.weight"] == [512, 256, 3, 3] and vsd["decoder.conv_out.weight"] == [3, 128, 3, 3]
    assert vsd["decoder.up.4.attn.2.q.weight"] == [512, 512, 1, 1] and "decoder.up.3.attn.0.q.weight" not in vsd
    assert vsd["decoder.up.1.upsample.conv.weight"] == [128, 128, 3, 3] and "decoder.up.0.upsample.conv.weight" not in vsd
    assert vsd["decoder.up.3.block.0.nin_shortcut.weight"] == [256, 512, 1, 1]


def test_pack_round_trip_and_shortcut_graph_is_the_reference_velocity():
    cfg = importer.CONFIGS["small"]()
    base, _, sc = importer.random_models(cfg, seed=6)
    tc = cfg.transformer
    f = torch.randn(3, tc.length + 1, tc.dim)
    packed = pack(f, tc)
    assert list(packed.shape) == [3, tc.length, tc.dim + 2]
    assert torch.equal(unpack(packed, tc), f)
    assert torch.equal(pack(2 * f - f, tc), 2 * packed - packed)  # linear
    ins = importer.example_inputs("shortcut", tc, 3, 4, 2)
    t = {k: torch.from_numpy(v) for k, v in ins.items()}
    with torch.no_grad():
        unpacked = unpack(t["feature"], tc)
        nxt = sc.next_feature(unpacked, t["newTokens"], t["newPositions"], t["ratio"])
        v = ShortcutGraph(sc, tc)(*t.values())
    assert torch.allclose(unpack(t["feature"] + v, tc), nxt, atol=1e-6)


def test_shortcut_velocity_is_next_minus_input():
    cfg = importer.CONFIGS["small"]()
    base, _, sc = importer.random_models(cfg, seed=5)
    tc = cfg.transformer
    f = torch.randn(2, tc.length + 1, tc.dim)
    ids, pos, r = torch.tensor([[1, 2, 3]] * 2), torch.tensor([[0, 5, 9], [3, 4, 15]]), torch.tensor([0.5, 0.25])
    with torch.no_grad():
        assert torch.allclose(sc.next_feature(f, ids, pos, r) - f, sc(f, ids, pos, r), atol=1e-6)


# --- strict loading and bad input -------------------------------------------------------------------------

def _state(paths):
    return torch.load(paths["vit"])["model_state_dict"]


@pytest.mark.parametrize("change", ["renamed", "missing", "misshaped"])
def test_strict_loading_lists_the_keys(files, change, tmp_path, capsys):
    _, paths = files
    ck = torch.load(paths["vit"])
    sd = ck["model_state_dict"]
    if change == "renamed":
        sd["transformer.layers.0.0.fn.mha.in_proj_weights"] = sd.pop("transformer.layers.0.0.fn.mha.in_proj_weight")
    elif change == "missing":
        del sd["last_layer.2.bias"]
    else:
        sd["first_layer.2.weight"] = torch.zeros(32, 31)
    bad = tmp_path / "vit.pth"
    torch.save(ck, bad)
    base = MaskGitTransformer(TransformerConfig(dim=32, depth=2, heads=4, mlp=64, grid=4, codebook=16, num_classes=10))
    with pytest.raises(CheckpointMismatchError) as err:
        load_strict(base, sd, "--vit")
    msg = str(err.value)
    if change == "renamed":
        assert err.value.missing == ["transformer.layers.0.0.fn.mha.in_proj_weight"]
        assert err.value.unexpected == ["transformer.layers.0.0.fn.mha.in_proj_weights"]
    elif change == "missing":
        assert err.value.missing == ["last_layer.2.bias"] and not err.value.unexpected
    else:
        assert err.value.misshaped == [("first_layer.2.weight", (32, 31), (32, 32))]
        assert "is [32, 31] in the checkpoint, the module needs [32, 32]" in msg
    assert "strict loading" in _refused(paths, tmp_path, capsys, vit=str(bad))


def _refused(paths, tmp_path, capsys, **replace) -> str:
    """Imports with some files replaced: exit status 2, one error line, nothing written. Returns stderr."""
    out = tmp_path / "out"
    assert _import(dict(paths, **replace), out) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".import-maskgit")]
    return err


def test_another_architectures_checkpoint(files, tmp_path, capsys):
    from migm_train.fashion_mnist.base_model import BaseModel
    from migm_train.fashion_mnist.config import tiny
    bad = tmp_path / "other.pth"
    torch.save({"model_state_dict": BaseModel(tiny().base).state_dict()}, bad)
    err = _refused(files[1], tmp_path, capsys, vit=str(bad))
    assert "is not a MaskGIT transformer" in err and "tok_emb.weight" in err


def test_vqgan_folder_without_yaml(files, tmp_path, capsys):
    folder = tmp_path / "VQGAN"
    folder.mkdir()
    os.link(os.path.join(files[1]["vqgan"], "last.ckpt"), folder / "last.ckpt")
    assert "has no model.yaml" in _refused(files[1], tmp_path, capsys, vqgan=str(folder))


def test_shortcut_for_another_width(files, tmp_path, capsys):
    other = TransformerConfig(dim=48, depth=1, heads=4, mlp=64, grid=4, codebook=16, num_classes=10)
    sc = MaskGitShortcut.for_base(ShortcutConfig.for_width(48, 2, 1, 4), MaskGitTransformer(other))
    bad = tmp_path / "sc.pth"
    torch.save(sc.state_dict(), bad)
    err = _refused(files[1], tmp_path, capsys, shortcut=str(bad))
    assert "feature width 48" in err and "width is 32" in err


def test_out_must_be_new_or_empty(files, tmp_path, capsys):
    _, paths = files
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _import(paths, out) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert os.listdir(out) == ["keep.txt"]


def test_shipped_class_names():
    names = importer.class_names(None, 1000)
    assert len(set(names)) == 1000
    assert names[0] == "tench" and names[207] == "golden retriever" and names[999] == "toilet tissue"


def test_random_init_small_matches_import_layout(tmp_path):
    out = tmp_path / "rnd"
    assert cli.main(["import-maskgit", "--random-init", "--config", "small", "--out", str(out),
                     "--no-shortcut"]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert set(m["graphs"]) == {"base", "head", "decoder"} and m["training"]["weights"] == "random"


# --- the runtime: migm generate on an imported bundle, every predictor ------------------------------------

MIGM = os.path.join(TRAINING_DIR, "..", "packages", "cli", "bin", "migm.js")
CLI_DIST = os.path.join(TRAINING_DIR, "..", "packages", "cli", "dist", "main.js")


def _wait_for_cli_build(seconds: float = 180) -> None:
    """`pnpm check` builds the CLI beside this package's tests (turbo runs them in parallel)."""
    import time
    deadline = time.time() + seconds
    while not os.path.exists(CLI_DIST) and time.time() < deadline:
        time.sleep(2)
    assert os.path.exists(CLI_DIST), "packages/cli is not built (pnpm --filter @migm/cli build)"


def _png_size(path) -> tuple[int, int]:
    head = open(path, "rb").read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.parametrize("method", ["vanilla", "shortcut", "reuse", "taylor", "shortcut-taylor", "adams"])
def test_migm_generate_every_method(bundles, method, tmp_path):
    # CLI names: shortcut = core's 'learned', shortcut-taylor = 'learned-taylor'. The small bundle's class
    # names ("class 3") have a space, as ImageNet's ("golden retriever").
    _wait_for_cli_build()
    dirs, _, _ = bundles
    out = tmp_path / f"{method}.png"
    res = subprocess.run(["node", MIGM, "generate", "--bundle", str(dirs["fp32"]), "--class", "class 3", "--count", "2",
                          "--columns", "2", "--method", method, "--seed", "5", "--out", str(out), "--quiet"],
                         capture_output=True, text=True, env=dict(os.environ, ORT_DISABLE_TELEMETRY="1"))
    assert res.returncode == 0, res.stderr
    assert f"{method} N=16" in res.stdout and "class 3 (3)" in res.stdout
    calls = res.stdout.strip().splitlines()[-1]
    if method == "shortcut":
        assert "12 base" in calls and "4 shortcut calls" in calls
    if method == "vanilla":
        assert "16 base" in calls
    # 8 x 8 RGB images at the default 4x scale (images under 256 px), two columns
    w, h = _png_size(out)
    assert 32 <= h < 64 and w >= 64


class _Payload:
    """Unpickling this writes a marker file: the stand-in for code a hostile checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _fake_module(monkeypatch, name: str, cls_name: str):
    """A class saved under `name` that is gone (uninstalled) when the checkpoint is read back."""
    import sys
    import types
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    cls = type(cls_name, (), {"__module__": name})
    setattr(sys.modules[name], cls_name, cls)
    return cls


def _payload_file(kind, files, tmp_path, marker):
    """(argument replaced, path) for each place a payload was found to run (issue 27, finding 1)."""
    _, paths = files
    evil = _Payload(marker)
    if kind == "vit-nested":  # next to the real state dict
        ck = torch.load(paths["vit"], weights_only=True)
        ck["extra"] = {"hidden": [evil]}
        torch.save(ck, tmp_path / "vit.pth")
        return "vit", str(tmp_path / "vit.pth")
    if kind == "vit-top":  # the whole file is the payload
        torch.save(evil, tmp_path / "vit.pth")
        return "vit", str(tmp_path / "vit.pth")
    if kind == "vit-legacy":  # torch's pre-1.6 (non-zip) format
        ck = torch.load(paths["vit"], weights_only=True)
        ck["extra"] = evil
        torch.save(ck, tmp_path / "vit.pth", _use_new_zipfile_serialization=False)
        return "vit", str(tmp_path / "vit.pth")
    if kind == "vit-raw-pickle":  # a plain pickle stream named .pth
        import pickle
        (tmp_path / "vit.pth").write_bytes(pickle.dumps({"model_state_dict": evil}, protocol=2))
        return "vit", str(tmp_path / "vit.pth")
    if kind == "vqgan":  # in last.ckpt beside the state dict, as Lightning's extra entries are
        folder = tmp_path / "VQGAN"
        folder.mkdir()
        os.link(os.path.join(paths["vqgan"], "model.yaml"), folder / "model.yaml")
        ck = torch.load(os.path.join(paths["vqgan"], "last.ckpt"), weights_only=True)
        ck["hyper_parameters"] = evil
        torch.save(ck, folder / "last.ckpt")
        return "vqgan", str(folder)
    assert kind == "shortcut"
    sd = torch.load(paths["shortcut"], weights_only=True)
    sd["blocks.0.cross_attn.norm.weight"] = [sd["blocks.0.cross_attn.norm.weight"], evil]
    torch.save(sd, tmp_path / "sc.pth")
    return "shortcut", str(tmp_path / "sc.pth")


@pytest.mark.parametrize("kind", ["vit-nested", "vit-top", "vit-legacy", "vit-raw-pickle", "vqgan", "shortcut"])
def test_checkpoint_payloads_never_run(files, kind, tmp_path, capsys):
    marker = tmp_path.parent / f"{tmp_path.name}-ran"
    arg, path = _payload_file(kind, files, tmp_path, marker)
    err = _refused(files[1], tmp_path, capsys, **{arg: path})
    assert not marker.exists(), "the checkpoint ran code"
    assert "holds Python objects besides tensors" in err or "is not a PyTorch checkpoint" in err, err
    if kind != "vit-raw-pickle":  # a bare pickle stream is not a torch file at all
        assert "holds Python objects besides tensors" in err and "open" in err, err


def test_unknown_library_objects_are_refused_and_named(files, tmp_path, monkeypatch):
    # Objects of a library that is not installed used to load as stubs; now nothing outside the allowlist loads.
    from migm_train.maskgit512.checkpoints import UnsafeCheckpointError, read_vqgan_state
    hp = _fake_module(monkeypatch, "omegaconf.dictconfig", "DictConfig")
    folder = tmp_path / "VQGAN"
    folder.mkdir()
    ck = torch.load(os.path.join(files[1]["vqgan"], "last.ckpt"), weights_only=True)
    ck["hyper_parameters"] = hp()
    torch.save(ck, folder / "last.ckpt")
    monkeypatch.undo()
    with pytest.raises(UnsafeCheckpointError) as err:
        read_vqgan_state(str(folder))
    assert "omegaconf.dictconfig.DictConfig" in str(err.value)


def test_lightning_checkpoint_callback_key_is_an_inert_marker(files, tmp_path, monkeypatch):
    # The published taming last.ckpt keys its callback state by Lightning's ModelCheckpoint class.
    from migm_train.maskgit512.checkpoints import read_vqgan_state
    mc = _fake_module(monkeypatch, "pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint")
    folder = tmp_path / "VQGAN"
    folder.mkdir()
    ck = torch.load(os.path.join(files[1]["vqgan"], "last.ckpt"), weights_only=True)
    ck["callbacks"] = {mc: {"best_model_score": torch.tensor(0.5), "best_model_path": "logs/last.ckpt"}}
    ck["pytorch-lightning_version"] = "1.0.8"
    torch.save(ck, folder / "last.ckpt")
    monkeypatch.undo()
    if getattr(torch.serialization, "safe_globals", None) is None:  # Debian's torch 1.13: a clear refusal
        with pytest.raises(ImportMaskgitError, match="cannot allowlist"):
            read_vqgan_state(str(folder))
        return
    assert "decoder.conv_in.weight" in read_vqgan_state(str(folder))


@pytest.mark.parametrize("role", ["base", "shortcut"])
def test_plain_attention_export_parity(bundles, role, tmp_path, monkeypatch):
    # FUSED_ATTENTION_EXPORT = False: plain opset-17 attention for runtimes without com.microsoft ops.
    from migm_train import layers
    _, mods, tc = bundles
    monkeypatch.setattr(layers, "FUSED_ATTENTION_EXPORT", False)
    path = tmp_path / f"{role}.onnx"
    spec = importer.graph_specs(tc, 8)[role]
    export.export_module(mods[role], importer.example_inputs(role, tc, 2, 5, 0), spec, str(path), False)
    assert b"MultiHeadAttention" not in path.read_bytes()
    inputs = importer.example_inputs(role, tc, 3, 6, seed=12)
    want = export.run_torch(mods[role], inputs)
    got = _ort(path, inputs, tmp_path)
    for tensor, w in zip(spec[1].values(), want):
        g = np.array(got[tensor["name"]]["data"], dtype=np.float32).reshape(got[tensor["name"]]["dims"])
        assert float(np.abs(g - w).max()) <= FP32_TOL


@pytest.mark.parametrize("flag", ["--heads", "--shortcut-heads"])
def test_zero_heads_is_a_usage_error(files, flag, tmp_path, capsys):
    # issue 27, finding 6: `--heads 0` was a ZeroDivisionError traceback.
    with pytest.raises(SystemExit) as code:
        _import(files[1], tmp_path / "out", flag, "0")
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert "must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_zero_dim_tensor_is_one_error_line(files, tmp_path, capsys):
    # issue 27, finding 6: a 0-d pos_emb was an IndexError traceback.
    ck = torch.load(files[1]["vit"], weights_only=True)
    ck["model_state_dict"]["pos_emb"] = torch.tensor(1.0)
    torch.save(ck, tmp_path / "vit.pth")
    err = _refused(files[1], tmp_path, capsys, vit=str(tmp_path / "vit.pth"))
    assert "Traceback" not in err and ("pos_emb" in err or "layout" in err), err
