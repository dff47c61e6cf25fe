"""aMUSEd (issue 29) at the small config: a model folder in the published layout (random weights) ->
import-amused -> bundle; parity of every graph between the PyTorch modules and onnxruntime (fp32 and fp16, the
fp16 bundle with its weights in external-data files), the manifest's sampling defaults, strict-loading and
bad-input errors (nothing written), the scheduler's token counts and the reference sampler."""
import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from migm_train import cli, export
from migm_train import manifest as man
from migm_train.amused import folder, importer, sampling
from migm_train.amused.errors import ImportAmusedError, PickleWeightsError, WeightsMismatchError
from migm_train.env import TRAINING_DIR

FP32_TOL = 1e-4
# fp16-stored weights against the fp32 PyTorch modules, relative to max(1, the output's largest magnitude);
# measured at the small config: at most 1.2e-3 (textEncoder pooled 1.7e-3 of 2.25, decoder 2.7e-3 on [0, 1]).
FP16_REL_TOL = 5e-3
ROLES = ["textEncoder", "base", "head", "decoder"]


def _cli(*argv):
    return cli.main(list(argv))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("amused")
    assert _cli("import-amused", "--random-init", "--config", "small", "--seed", "3", "--out", str(root / "model")) == 0
    return root / "model"


@pytest.fixture(scope="module")
def bundles(model_dir):
    root = model_dir.parent
    assert _cli("import-amused", "--model", str(model_dir), "--out", str(root / "b32")) == 0
    # fp16, and a chunk limit of 1 MiB so that the text encoder's weights go to external-data files
    assert _cli("import-amused", "--model", str(model_dir), "--out", str(root / "b16"), "--dtype", "fp16",
                "--chunk-mb", "1") == 0
    models = folder.load_models(str(model_dir))
    return {"fp32": root / "b32", "fp16": root / "b16"}, importer.graph_modules(models), importer.dims(models), models


def _copy(model_dir, tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def _import_fails(model, tmp_path, *extra):
    out = tmp_path / "bundle"
    rc = _cli("import-amused", "--model", str(model), "--out", str(out), *extra)
    assert rc == 2
    assert not out.exists(), "nothing may be written"
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".import-amused-")] == []


def test_published_layout(model_dir):
    index = json.loads((model_dir / "model_index.json").read_text())
    assert index["_class_name"] == "AmusedPipeline"
    for rel in ["transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
                "transformer/diffusion_pytorch_model.fp16.safetensors", "vqvae/config.json",
                "vqvae/diffusion_pytorch_model.safetensors", "text_encoder/config.json", "text_encoder/model.safetensors",
                "text_encoder/model.fp16.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt",
                "scheduler/scheduler_config.json"]:
        assert (model_dir / rel).is_file(), rel
    vocab = json.loads((model_dir / "tokenizer" / "vocab.json").read_text())
    assert len(vocab) == 49408 and vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407


def test_diffusers_parameter_names(bundles):
    """A sample of the published checkpoints' key names (diffusers' UVit2DModel / VQModel) and shapes."""
    _, _, _, models = bundles
    u = models.uvit.state_dict()
    for k in ["encoder_proj.weight", "encoder_proj_layer_norm.weight", "embed.embeddings.weight", "embed.conv.weight",
              "cond_embed.linear_1.weight", "cond_embed.linear_2.weight", "down_block.downsample.norm.weight",
              "down_block.downsample.conv.weight", "down_block.res_blocks.0.depthwise.weight",
              "down_block.res_blocks.0.channelwise_norm.gamma", "down_block.res_blocks.0.cond_embeds_mapper.weight",
              "down_block.attention_blocks.0.kv_mapper.weight", "down_block.attention_blocks.0.attn1.to_q.weight",
              "down_block.attention_blocks.0.attn2.to_out.0.weight", "transformer_layers.0.norm1.linear.weight",
              "transformer_layers.0.norm1.norm.weight", "transformer_layers.0.norm3.norm.weight",
              "transformer_layers.0.attn2.to_k.weight", "transformer_layers.0.ff.net.0.proj.weight",
              "transformer_layers.0.ff.net.2.weight", "project_to_hidden.weight", "project_from_hidden_norm.weight",
              "up_block.upsample.conv.weight", "mlm_layer.conv1.weight", "mlm_layer.layer_norm.weight",
              "mlm_layer.conv2.weight"]:
        assert k in u, k
    assert not any(k.endswith(".bias") for k in u), "aMUSEd's U-ViT has no biases (use_bias false)"
    assert "transformer_layers.0.norm3.norm.bias" not in u  # bias-less LayerNorm
    assert list(u["down_block.res_blocks.0.channelwise_norm.gamma"].shape) == [1, 1, 1, 96]
    v = models.vq.state_dict()
    for k in ["quantize.embedding.weight", "post_quant_conv.weight", "decoder.conv_in.weight",
              "decoder.mid_block.resnets.0.norm1.weight", "decoder.mid_block.attentions.0.group_norm.weight",
              "decoder.mid_block.attentions.0.to_out.0.bias", "decoder.up_blocks.0.resnets.0.conv1.weight",
              "decoder.up_blocks.0.upsamplers.0.conv.weight", "decoder.up_blocks.1.resnets.0.conv_shortcut.weight",
              "decoder.conv_norm_out.weight", "decoder.conv_out.bias"]:
        assert k in v, k
    assert models.skipped == {"transformer": 0, "vqvae": 2, "text_encoder": 0}


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
@pytest.mark.parametrize("role", ROLES)
def test_onnx_parity(bundles, role, dtype):
    import onnxruntime as ort

    dirs, mods, d, _ = bundles
    spec = json.loads((dirs[dtype] / "manifest.json").read_text())["graphs"][role]
    inputs = importer.example_inputs(role, d, 3, seed=11)  # batch 3: not the export example's 2
    want = export.run_torch(mods[role], inputs)
    sess = ort.InferenceSession(str(dirs[dtype] / spec["file"]), providers=["CPUExecutionProvider"])
    got = sess.run([t["name"] for t in spec["outputs"].values()], inputs)
    for tensor, w, g in zip(spec["outputs"].values(), want, got):
        assert list(g.shape) == list(w.shape)
        err = float(np.abs(g - w).max())
        if dtype == "fp32":
            assert err <= FP32_TOL, f"{role}.{tensor['name']}: {err}"
        else:
            assert err <= FP16_REL_TOL * max(1.0, float(np.abs(w).max())), f"{role}.{tensor['name']}: {err}"


def test_manifest(bundles):
    dirs, _, d, models = bundles
    for dtype, path in dirs.items():
        mf = json.loads((path / "manifest.json").read_text())
        man.validate(mf)
        assert mf["family"] == "amused"
        assert mf["sampling"] == {"steps": 12, "schedule": "cosine-floor", "guidance": {"scale": 9.0, "schedule": "constant"},
                                  "inverseTemperature": 1.0, "randomizeTemperature": 2.0, "budget": 4}
        c = mf["condition"]
        assert c["type"] == "text" and c["maxLength"] == 77 and c["negativePrompt"] == ""
        assert c["tokenizer"] == {"file": "tokenizer.json", "kind": "clip-bpe", "bosId": 49406, "eosId": 49407,
                                  "padId": 49407}
        assert c["microConditioning"] == {"names": ["width", "height", "cropX", "cropY", "aestheticScore"],
                                          "default": [16.0, 16.0, 0.0, 0.0, 6.0]}
        assert mf["tokens"] == {"grid": [4, 4], "count": 16, "codebookSize": 16, "maskId": 16, "patchSize": 4}
        assert mf["featureDim"] == 24 and mf["image"]["width"] == 16
        assert "affine" not in mf["graphs"]["head"]
        assert mf["training"]["maskTokenId"] == 17 and mf["training"]["weights"]["config"] == "small"
        assert "RANDOM" in mf["description"]
        listed = {f["path"]: f for f in mf["files"]}
        assert set(listed) == {p.name for p in path.iterdir()} - {"manifest.json"}
        for rel, f in listed.items():
            assert man.sha256_file(str(path / rel)) == f["sha256"] and (path / rel).stat().st_size == f["bytes"]
        ext = mf["graphs"]["textEncoder"].get("externalData")
        if dtype == "fp16":
            assert ext and all(e in listed for e in ext)
            assert len(ext) >= 2  # the 1 MiB limit split the weights (one tensor larger than that gets its own file)
        else:
            assert ext is None


def test_tokenizer_json_matches_transformers(bundles):
    from tokenizers import Tokenizer

    dirs, _, _, models = bundles
    tok = Tokenizer.from_file(str(dirs["fp32"] / "tokenizer.json"))
    prompts = ["a photo of a cat", "", "Café  naïve\tRÉSUMÉ 123!!", "日本 🙂", "word " * 90]
    want = models.tokenizer(prompts, padding="max_length", truncation=True, max_length=77).input_ids
    got = [e.ids for e in tok.encode_batch(prompts)]
    assert got == want
    assert got[-1][-1] == 49407 and len(got[-1]) == 77  # truncated, the end token kept last


def test_variant_fp16_reads_the_fp16_files(model_dir):
    a = folder.load_models(str(model_dir))
    b = folder.load_models(str(model_dir), "fp16")
    assert b.sources["transformer"] == "transformer/diffusion_pytorch_model.fp16.safetensors"
    for ma, mb in [(a.uvit, b.uvit), (a.vq, b.vq), (a.text, b.text)]:
        for (k, x), (_, y) in zip(ma.state_dict().items(), mb.state_dict().items()):
            assert torch.equal(x.half().float(), y), k


def _edit_weights(path, edit):
    from safetensors.torch import load_file, save_file

    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


@pytest.mark.parametrize("case", ["renamed", "missing", "misshaped"])
def test_strict_loading(model_dir, tmp_path, case, capsys):
    m = _copy(model_dir, tmp_path)
    key = "transformer_layers.1.attn1.to_q.weight"

    def edit(state):
        if case == "renamed":
            state["transformer_layers.1.attn1.query.weight"] = state.pop(key)
        elif case == "missing":
            del state[key]
        else:
            state[key] = torch.zeros(3, 5)

    _edit_weights(m / "transformer" / "diffusion_pytorch_model.safetensors", edit)
    with pytest.raises(WeightsMismatchError) as exc:
        folder.load_models(str(m))
    msg = str(exc.value)
    assert "transformer/diffusion_pytorch_model.safetensors does not match the module" in msg and key in msg
    assert {"renamed": "unexpected keys (1): transformer_layers.1.attn1.query.weight", "missing": "missing keys (1)",
            "misshaped": "is [3, 5] in the file, the module needs [32, 32]"}[case] in msg
    _import_fails(m, tmp_path)
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and key in err


def test_strict_loading_lists_every_component(model_dir, tmp_path):
    m = _copy(model_dir, tmp_path)
    _edit_weights(m / "vqvae" / "diffusion_pytorch_model.safetensors",
                  lambda s: s.pop("decoder.conv_out.weight"))
    _edit_weights(m / "text_encoder" / "model.safetensors",
                  lambda s: s.__setitem__("text_projection.weight", torch.zeros(2, 2)))
    with pytest.raises(WeightsMismatchError) as exc:
        folder.load_models(str(m))
    assert set(exc.value.parts) == {"vqvae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"}
    assert "decoder.conv_out.weight" in str(exc.value) and "text_projection.weight" in str(exc.value)


class _Payload:
    """Unpickling this writes a marker file: the stand-in for code a hostile weight file would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_weight_file_refused(model_dir, tmp_path, capsys):
    m = _copy(model_dir, tmp_path)
    os.remove(m / "transformer" / "diffusion_pytorch_model.safetensors")
    marker = tmp_path / "ran"
    with open(m / "transformer" / "diffusion_pytorch_model.bin", "wb") as fh:
        pickle.dump({"w": _Payload(marker)}, fh)
    with pytest.raises(PickleWeightsError, match="diffusion_pytorch_model.bin"):
        folder.load_models(str(m))
    _import_fails(m, tmp_path)
    assert "pickle-based weight files are never read" in capsys.readouterr().err
    assert not marker.exists()


def test_not_safetensors_refused(model_dir, tmp_path):
    m = _copy(model_dir, tmp_path)
    (m / "vqvae" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(ImportAmusedError, match="not a readable safetensors file"):
        folder.load_models(str(m))


@pytest.mark.parametrize("case", ["other-family", "no-index", "no-subfolder", "no-config", "no-weights",
                                  "variant-absent", "mask-id", "not-a-folder"])
def test_bad_model_folder(model_dir, tmp_path, case, capsys):
    m = _copy(model_dir, tmp_path)
    extra = []
    if case == "other-family":
        index = json.loads((m / "model_index.json").read_text())
        (m / "model_index.json").write_text(json.dumps(dict(index, _class_name="StableDiffusionPipeline")))
        want = "a model folder of another family"
    elif case == "no-index":
        os.remove(m / "model_index.json")
        want = "no model_index.json"
    elif case == "no-subfolder":
        shutil.rmtree(m / "scheduler")
        want = "lacks the subfolder(s) scheduler/"
    elif case == "no-config":
        os.remove(m / "vqvae" / "config.json")
        want = "lacks vqvae/config.json"
    elif case == "no-weights":
        for f in (m / "text_encoder").glob("*.safetensors"):
            os.remove(f)
        want = "text_encoder/model.safetensors is missing"
    elif case == "variant-absent":
        os.remove(m / "vqvae" / "diffusion_pytorch_model.fp16.safetensors")
        extra = ["--variant", "fp16"]
        want = "drop --variant"
    elif case == "mask-id":
        (m / "scheduler" / "scheduler_config.json").write_text(json.dumps(
            {"_class_name": "AmusedScheduler", "mask_token_id": 3}))
        want = "mask_token_id 3"
    else:
        m = tmp_path / "absent"
        want = "is not a folder"
    _import_fails(m, tmp_path, *extra)
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and want in err, err


def test_out_must_be_empty(model_dir, tmp_path, capsys):
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert _cli("import-amused", "--model", str(model_dir), "--out", str(out)) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_mask_counts():
    assert sampling.mask_counts(256, 12) == [253, 247, 236, 221, 203, 181, 155, 127, 97, 66, 33, 0]
    assert sampling.mask_counts_float64(256, 12)[7] == 128  # float32 and float64 differ here
    assert sampling.mask_counts(1024, 12)[-2:] == [133, 0]
    assert sampling.mask_counts(4, 12) == [3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]  # at least 1, at most masked - 1
    assert sampling.mask_counts(5, 1) == [0]


def test_counts_fixture_is_current():
    script = os.path.join(TRAINING_DIR, "scripts", "amused_counts_fixture.py")
    res = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert res.returncode == 0, "packages/core/test/fixtures/amused-counts.json is stale: rerun the script"


def test_reference_sampler(bundles):
    _, mods, d, _ = bundles
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    text = lambda: (torch.from_numpy(rng.standard_normal((2, 77, d["E"])).astype(np.float32)),  # noqa: E731
                    torch.from_numpy(rng.standard_normal((2, d["P"])).astype(np.float32)))
    cond, uncond = text(), text()
    micro = torch.tensor([importer.micro_default(d)] * 2)
    a = sampling.sample(mods["base"], cond, uncond, micro, d["L"], d["K"], gen)
    b = sampling.sample(mods["base"], cond, uncond, micro, d["L"], d["K"], torch.Generator().manual_seed(0))
    assert a.shape == (2, d["L"]) and torch.equal(a, b)
    assert int(a.min()) >= 0 and int(a.max()) < d["K"]


def test_clip_tokenizer_fixture_script(tmp_path):
    script = os.path.join(TRAINING_DIR, "scripts", "clip_tokenizer_fixture.py")
    res = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "prompts.json").read_text())
    assert len(doc["prompts"]) >= 200 and doc["summary"]["truncated"] >= 3
    assert all(len(p["ids"]) == 77 and p["ids"][0] == 49406 for p in doc["prompts"])
    assert {p["text"] for p in doc["prompts"]} >= {"", "日本語のテキスト", "🙂"}
    assert (tmp_path / "tokenizer.json").is_file() and (tmp_path / "merges.txt").is_file()
