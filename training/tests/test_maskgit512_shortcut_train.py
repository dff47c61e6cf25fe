"""Train your own shortcut for an imported MaskGIT (issue 17, item 5) at the small config with random weights:
random-init bundle -> `migm record` -> train-maskgit-shortcut -> a bundle that validates, whose shortcut graph
matches PyTorch in onnxruntime-node and runs in `migm generate --method shortcut`."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

from migm_train import cli, export
from migm_train import manifest as man
from migm_train.maskgit512 import importer
from migm_train.maskgit512 import train_shortcut as ts
from migm_train.maskgit512.shortcut import MaskGitShortcut, ShortcutConfig, ShortcutGraph
from migm_train.maskgit512.transformer import unpack
from test_maskgit512 import MIGM, _ort, _wait_for_cli_build

ENV = dict(os.environ, ORT_DISABLE_TELEMETRY="1")
IMAGES, STEPS = 12, 15


def _record(bundle, out, count=IMAGES):
    _wait_for_cli_build()
    res = subprocess.run(["node", MIGM, "record", "--bundle", str(bundle), "--steps", str(STEPS), "--count",
                          str(count), "--batch", "6", "--out", str(out)], capture_output=True, text=True, env=ENV)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("mgs")
    assert cli.main(["import-maskgit", "--random-init", "--config", "small", "--no-shortcut", "--seed", "7",
                     "--write-checkpoints", str(root / "released"), "--out", str(root / "bundle")]) == 0
    traj = _record(root / "bundle", root / "traj")
    base, _, _ = importer.random_models(importer.CONFIGS["small"](), 7, with_shortcut=False)
    return root, base.eval(), ts.open_recording(str(traj))


def _train_argv(root, out, *extra):
    return ["train-maskgit-shortcut", "--bundle", str(root / "bundle"), "--trajectories", str(root / "traj"),
            "--out", str(out), "--log-every", "10", *extra]


def test_recording_holds_what_the_trainer_needs(setup):
    """migm record on a MaskGIT bundle: packed features (featureDim D + ceil(D / L)), both CFG branches, every
    step. Unpacked, each equals the base's feature [L + 1, D] (class position included) on the recorded token
    state: the conditional branch with the recorded class, the unconditional one with the null class."""
    _, base, rec = setup
    tc = base.cfg
    assert (rec.L, rec.P, rec.steps, rec.branches, rec.images) == (16, 34, STEPS, 2, IMAGES)
    assert sorted(set(rec.classes.tolist())) == list(range(10))  # classes cycle over the bundle's
    worst = 0.0
    with torch.no_grad():
        for i in (0, 7):
            for s in range(STEPS):
                toks = torch.from_numpy(rec.token_state(i, s, tc.codebook))[None]
                for b, cls in enumerate((int(rec.classes[i]), tc.num_classes)):
                    want = base.features(toks, torch.tensor([cls]))
                    got = unpack(torch.from_numpy(rec.feature(i, s, b))[None], tc)
                    worst = max(worst, float((got - want).abs().max()))
    assert worst < 1e-4, worst
    # pairs: the tokens revealed at s, the ratio after s, the loss positions (still masked; never the class row)
    b = ts.pair_batch(rec, [(0, 3, 0), (5, 3, 1)], tc)
    assert b.feature.shape == (2, 17, 32) and b.ids.shape == b.pos.shape == (2, int(rec.index["counts"][3]))
    assert torch.equal(b.ids, torch.from_numpy(rec.tokens[[0, 5]]).gather(1, b.pos))
    assert not b.still[:, 16].any() and b.still.sum(1).tolist() == [16 - sum(rec.index["counts"][:4])] * 2
    assert torch.allclose(b.ratio, b.still[:, :16].float().mean(1))


def test_loss_decreases_on_a_fixed_batch(setup):
    _, base, rec = setup
    scfg = ShortcutConfig.for_width(32, 2, 1, 4)
    tr, _ = ts.split(rec, 2)
    fixed = [tr[j] for j in range(0, len(tr), 37)]
    torch.manual_seed(0)
    with torch.no_grad():
        before = float(ts.batch_loss(MaskGitShortcut.for_base(scfg, base).eval(), rec, fixed, base.cfg, "cpu"))
    _, raw, hist = ts.train(base, rec, scfg, tr, steps=60, batch=4, lr=1e-3, lr_decay_step=1000, lr_decay=0.1,
                            weight_decay=0.01, ema_decay=0.0, seed=0, log=lambda m: None)
    with torch.no_grad():
        after = float(ts.batch_loss(raw.eval(), rec, fixed, base.cfg, "cpu"))
    assert len(hist) == 60 and after < 0.5 * before, (before, after)


def test_ema_is_exported_and_lr_steps_down(setup):
    _, base, rec = setup
    scfg = ShortcutConfig.for_width(32, 2, 1, 4)
    tr, _ = ts.split(rec, 2)
    ema, raw, _ = ts.train(base, rec, scfg, tr, steps=4, batch=2, lr=1e-3, lr_decay_step=2, lr_decay=0.1,
                           weight_decay=0.01, ema_decay=0.5, seed=0, log=lambda m: None)
    assert ema is not raw
    diff = max(float((a - b).abs().max()) for a, b in zip(ema.parameters(), raw.parameters()))
    assert diff > 0  # averaged, not a copy
    assert ts.PAPER_RECIPE["lr"] == 1e-4 and ts.PAPER_RECIPE["lr_decay_step"] == 1000
    assert ts.PAPER_RECIPE["ema_decay"] == 0.9999 and ts.PAPER_RECIPE["weight_decay"] == 0.01


def test_train_export_parity_and_generate(setup, tmp_path):
    root, base, _ = setup
    out, ckpt = tmp_path / "trained", tmp_path / "maskgit-shortcut.pth"
    assert cli.main(_train_argv(root, out, "--steps", "20", "--lr", "1e-3", "--save", str(ckpt))) == 0
    m = json.loads((out / "manifest.json").read_text())
    man.validate(m)
    g = m["graphs"]["shortcut"]
    base_entry = next(f for f in m["files"] if f["path"] == m["graphs"]["base"]["file"])
    assert g["compatibility"] == {"baseSha256": base_entry["sha256"], "codebookSize": 16, "featureDim": 34}
    assert g["trainedSteps"] == STEPS and g["parameters"] == sum(v.numel() for v in torch.load(ckpt).values())
    for f in m["files"]:
        assert man.sha256_file(str(out / f["path"])) == f["sha256"]
    assert m["training"]["shortcutTraining"]["steps"] == 20
    assert m["training"]["architecture"]["shortcut"]["heads"] == 4  # from the small config's head count
    # the saved weights are in the released layout: they load strictly, and the graph is their computation
    sc = MaskGitShortcut.for_base(ShortcutConfig.for_width(32, 2, 1, 4), base)
    sc.load_state_dict(torch.load(ckpt), strict=True)
    inputs = importer.example_inputs("shortcut", base.cfg, 3, 4, seed=5)
    want = export.run_torch(ShortcutGraph(sc.eval(), base.cfg).eval(), inputs)[0]
    got = _ort(out / g["file"], inputs, tmp_path)["velocity"]
    err = float(np.abs(np.array(got["data"], dtype=np.float32).reshape(got["dims"]) - want).max())
    assert err <= 1e-4, err
    # the runtime runs it (12 full + 4 shortcut steps at the bundle's N = 16, B = 12)
    res = subprocess.run(["node", MIGM, "generate", "--bundle", str(out), "--class", "class 2", "--count", "2",
                          "--method", "shortcut", "--seed", "1", "--out", str(tmp_path / "g.png"), "--quiet"],
                         capture_output=True, text=True, env=ENV)
    assert res.returncode == 0, res.stderr
    assert "12 base" in res.stdout and "4 shortcut calls" in res.stdout


def test_vit_checkpoint_supplies_the_embeddings(setup, tmp_path):
    root, _, _ = setup
    vit = str(root / "released" / "MaskGIT_ImageNet_512.pth")
    assert cli.main(_train_argv(root, tmp_path / "a", "--steps", "2", "--vit", vit)) == 0
    assert (tmp_path / "a" / "shortcut.onnx").exists()


def _refused(argv, out, capsys) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not os.path.exists(out) and not any(p.startswith(".train-maskgit") for p in os.listdir(out.parent))
    return err[0]


def test_wrong_vit_is_refused(setup, tmp_path, capsys):
    root, _, _ = setup
    other, _, _ = importer.random_models(importer.CONFIGS["small"](), 8, with_shortcut=False)
    paths = importer.write_reference_files(other, importer.random_models(importer.CONFIGS["small"](), 8)[1], None,
                                           str(tmp_path / "other"))
    msg = _refused(_train_argv(root, tmp_path / "x", "--steps", "2", "--vit", paths["vit"]), tmp_path / "x", capsys)
    assert "do not reproduce the recorded features" in msg


def test_trajectories_of_another_base_are_refused(setup, tmp_path, capsys):
    root, _, _ = setup
    assert cli.main(["import-maskgit", "--random-init", "--config", "small", "--seed", "9",
                     "--out", str(tmp_path / "b9")]) == 0
    capsys.readouterr()
    argv = ["train-maskgit-shortcut", "--bundle", str(tmp_path / "b9"), "--trajectories", str(root / "traj"),
            "--out", str(tmp_path / "x"), "--steps", "2"]
    assert "recorded with another base model" in _refused(argv, tmp_path / "x", capsys)


def test_not_a_recording_is_refused(setup, tmp_path, capsys):
    root, _, _ = setup
    (tmp_path / "empty").mkdir()
    argv = ["train-maskgit-shortcut", "--bundle", str(root / "bundle"), "--trajectories", str(tmp_path / "empty"),
            "--out", str(tmp_path / "x")]
    assert "no trajectories.json" in _refused(argv, tmp_path / "x", capsys)


def test_fp16_bundle_gets_an_fp16_shortcut(tmp_path):
    """An fp16 bundle (weights stored as float16) records features that differ from the fp32 modules by the
    weights' rounding; the base check allows that, and the new shortcut graph is stored as float16 too."""
    assert cli.main(["import-maskgit", "--random-init", "--config", "small", "--no-shortcut", "--seed", "7",
                     "--dtype", "fp16", "--out", str(tmp_path / "b16")]) == 0
    _record(tmp_path / "b16", tmp_path / "t16", count=4)
    ckpt = tmp_path / "sc.pth"
    assert cli.main(["train-maskgit-shortcut", "--bundle", str(tmp_path / "b16"), "--trajectories",
                     str(tmp_path / "t16"), "--out", str(tmp_path / "o16"), "--steps", "3", "--save", str(ckpt)]) == 0
    m = json.loads((tmp_path / "o16" / "manifest.json").read_text())
    assert m["training"]["dtype"] == "fp16"
    base, _, _ = importer.random_models(importer.CONFIGS["small"](), 7, with_shortcut=False)
    sc = MaskGitShortcut.for_base(ShortcutConfig.for_width(32, 2, 1, 4), base)
    sc.load_state_dict(torch.load(ckpt), strict=True)
    inputs = importer.example_inputs("shortcut", base.cfg, 2, 3, seed=6)
    want = export.run_torch(ShortcutGraph(sc.eval(), base.cfg).eval(), inputs)[0]
    got = _ort(tmp_path / "o16" / "shortcut.onnx", inputs, tmp_path)["velocity"]
    err = float(np.abs(np.array(got["data"], dtype=np.float32).reshape(got["dims"]) - want).max())
    assert 0 < err <= 5e-3 * max(1.0, float(np.abs(want).max())), err  # > 0: the weights really are float16


def test_pytorch_recorder_writes_the_same_format(setup, tmp_path):
    """record-maskgit (the PyTorch sampler over the imported modules, for CUDA-scale data) writes what
    `migm record` writes: same index fields and schedule counts, features that are the base's (rounded through
    float16), and train-maskgit-shortcut takes it."""
    root, base, rec = setup
    out = tmp_path / "pt"
    assert cli.main(["record-maskgit", "--bundle", str(root / "bundle"), "--out", str(out), "--count", "5",
                     "--batch", "3", "--steps", str(STEPS), "--classes", "cycle"]) == 0
    pt = ts.open_recording(str(out))
    for key in ("baseSha256", "tokens", "grid", "featureDim", "codebookSize", "maskId", "steps", "branches"):
        assert pt.index[key] == rec.index[key], key
    # With N close to L, core's schedule moves the reference formula's last count of 0 to 1 ([.., 2, 1, 1]);
    # migm_train.schedules keeps the formula ([.., 2, 2, 0]). At the paper's L = 1,024, N = 15 both agree.
    assert sum(pt.index["counts"]) == 16 and pt.index["counts"][:12] == rec.index["counts"][:12]
    assert pt.images == 5 and pt.classes.tolist() == [0, 1, 2, 3, 4]
    assert ts.check_base(base, pt, "fp32") < 1e-3
    with torch.no_grad():
        toks = torch.from_numpy(pt.token_state(4, 9, 16))[None]
        want = base.features(toks, torch.tensor([10]))  # image 4, step 9, the unconditional branch
        got = unpack(torch.from_numpy(pt.feature(4, 9, 1))[None], base.cfg)
    assert float((got - want).abs().max()) <= 1e-3 * float(want.abs().max())
    assert cli.main(["train-maskgit-shortcut", "--bundle", str(root / "bundle"), "--trajectories", str(out),
                     "--out", str(tmp_path / "b"), "--steps", "2"]) == 0


def test_loader_workers_give_the_same_training(setup):
    """The examples of optimizer step i depend only on (seed, i): reading ahead in worker processes changes
    nothing."""
    _, base, rec = setup
    scfg = ShortcutConfig.for_width(32, 2, 1, 4)
    tr, _ = ts.split(rec, 2)
    runs = [ts.train(base, rec, scfg, tr, steps=6, batch=3, lr=1e-3, lr_decay_step=1000, lr_decay=0.1,
                     weight_decay=0.01, ema_decay=0.0, seed=4, workers=w, log=lambda m: None)[2] for w in (0, 2)]
    assert runs[0] == runs[1]


class _InitPayload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling it would create the marker file
        return (open, (self.marker, "w"))


def test_pickle_payload_in_init_never_runs(setup, tmp_path, capsys):
    # issue 27, finding 1: `--init` was read with a lenient unpickler; now weights only.
    root, _, _ = setup
    marker = tmp_path / "ran"
    torch.save({"blocks.0.cross_attn.norm.weight": torch.ones(4), "x": _InitPayload(marker)}, tmp_path / "init.pth")
    out = tmp_path / "x"
    assert cli.main(_train_argv(root, out, "--steps", "2", "--init", str(tmp_path / "init.pth"))) == 2
    err = capsys.readouterr().err.strip().splitlines()  # a progress line ("base matches the recording"), then the error
    assert err[-1].startswith("error: --init:") and "holds Python objects besides tensors" in err[-1], err
    assert sum(line.startswith("error:") for line in err) == 1
    assert not marker.exists() and not out.exists()
