"""`import-maskgit`: released (or random) MaskGIT-512 + VQGAN + MIGM-Shortcut weights -> a migm bundle."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .. import export, layers
from .. import manifest as man
from ..vq_decoder import DecoderGraph
from ..export import store_fp16
from ..staging import check_out, staged
from .checkpoints import (VQGAN_UNUSED_PREFIXES, ImportMaskgitError, load_strict, read_shortcut,
                          read_transformer, read_vqgan_params, read_vqgan_state, shortcut_config,
                          transformer_config, unexpected_content)
from .shortcut import MaskGitShortcut, ShortcutConfig, ShortcutGraph
from .transformer import BaseGraph, HeadGraph, MaskGitTransformer, TransformerConfig, packed_width
from .vqgan import VqganDecoder

CLASS_NAMES_FILE = os.path.join(os.path.dirname(__file__), "imagenet_classes.txt")

# The paper's sampling regime for MaskGIT-512 (PAPER.md sections 1 and 6): arccos, w = 2.8 on a linear ramp,
# r_temp 7, softmax temperature 1; N = 32 with B = 12 full steps is its best shortcut row (FID 6.84).
PAPER_SAMPLING = {"steps": 32, "schedule": "arccos", "guidance": {"scale": 2.8, "schedule": "linear"},
                  "inverseTemperature": 1.0, "randomizeTemperature": 7.0, "budget": 12}
TRAINED_STEPS = 15
FEATURE_LAYOUT = ("featureDim = D + ceil(D / L): columns 0..%d-1 of row i are image position i's feature; the "
                  "class position's D values, zero-padded to L * ceil(D / L), fill the last columns row-major "
                  "(L = %d, D = %d); see docs/bundle-format.md")  # the released shortcut was trained on N = 15 vanilla trajectories (PAPER.md section 4)


def taming_f16_params(n_embed: int = 1024, embed_dim: int = 256) -> dict:
    """taming-transformers' ImageNet f = 16 VQGAN config (model.params of its model.yaml)."""
    return {"embed_dim": embed_dim, "n_embed": n_embed,
            "ddconfig": {"double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3,
                         "ch": 128, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16],
                         "dropout": 0.0}}


@dataclass(frozen=True)
class FamilyConfig:
    name: str
    transformer: TransformerConfig
    vqgan: dict
    shortcut: ShortcutConfig


CONFIGS = {
    "paper": lambda: FamilyConfig("paper", TransformerConfig(), taming_f16_params(),
                                  ShortcutConfig.for_width(768, 2, 1, 16)),
    # Tiny: 4 x 4 tokens, codebook 16, 10 classes, width 32, f = 2 (8 x 8 RGB): exports in about a second.
    "small": lambda: FamilyConfig(
        "small", TransformerConfig(dim=32, depth=2, heads=4, mlp=64, grid=4, codebook=16, num_classes=10),
        {"embed_dim": 4, "n_embed": 16,
         "ddconfig": {"double_z": False, "z_channels": 4, "resolution": 8, "in_channels": 3, "out_ch": 3, "ch": 32,
                      "ch_mult": [1, 2], "num_res_blocks": 1, "attn_resolutions": [4], "dropout": 0.0}},
        ShortcutConfig.for_width(32, 2, 1, 4)),
}


def random_models(cfg: FamilyConfig, seed: int = 0, with_shortcut: bool = True):
    torch.manual_seed(seed)
    base = MaskGitTransformer(cfg.transformer)
    with torch.no_grad():  # the reference initialises the bias to zeros; random values exercise it in tests
        base.bias.normal_(0, 0.02)
        base.tok_emb.weight.normal_(0, 0.02)
    vq = VqganDecoder(cfg.vqgan)
    sc = MaskGitShortcut.for_base(cfg.shortcut, base) if with_shortcut else None
    return base, vq, sc


def load_models(vit: str, vqgan: str, shortcut: str | None, heads: int, shortcut_heads: int):
    """The released files -> modules (strict). Raises ImportMaskgitError before anything is written."""
    with unexpected_content("the checkpoints"):
        return _load_models(vit, vqgan, shortcut, heads, shortcut_heads)


def _load_models(vit: str, vqgan: str, shortcut: str | None, heads: int, shortcut_heads: int):
    params = read_vqgan_params(vqgan)
    vq_state = read_vqgan_state(vqgan)
    sd = read_transformer(vit)
    tcfg = transformer_config(sd, params["n_embed"], heads, vit)
    base = MaskGitTransformer(tcfg)
    load_strict(base, sd, f"--vit {vit}")
    vq = VqganDecoder(params)
    skipped = load_strict(vq, vq_state, f"--vqgan {vqgan}/last.ckpt", VQGAN_UNUSED_PREFIXES)
    sc = None
    if shortcut is not None:
        ssd = read_shortcut(shortcut)
        scfg = shortcut_config(ssd, tcfg.dim, shortcut_heads, shortcut)
        sc = MaskGitShortcut.for_base(scfg, base)
        load_strict(sc, ssd, f"--shortcut {shortcut}")
    return base, vq, sc, skipped


# --- graphs ----------------------------------------------------------------------------------------------

def graph_specs(tc: TransformerConfig, image: int) -> dict:
    L, K, P = tc.length, tc.codebook, packed_width(tc)
    t = lambda name, dtype, shape: {"name": name, "dtype": dtype, "shape": shape}  # noqa: E731
    feat = lambda name: t(name, "float32", ["batch", L, P])  # noqa: E731
    return {
        "base": ({"tokens": t("tokens", "int32", ["batch", L]), "classes": t("classes", "int32", ["batch"])},
                 {"logits": t("logits", "float32", ["batch", L, K]), "feature": feat("feature")}),
        "head": ({"feature": feat("feature")}, {"logits": t("logits", "float32", ["batch", L, K])}),
        "shortcut": ({"feature": feat("feature"), "newTokens": t("newTokens", "int32", ["batch", "n"]),
                      "newPositions": t("newPositions", "int32", ["batch", "n"]),
                      "ratio": t("ratio", "float32", ["batch"])},
                     {"velocity": feat("velocity")}),
        "decoder": ({"tokens": t("tokens", "int32", ["batch", L])},
                    {"pixels": t("pixels", "float32", ["batch", 3, image, image])}),
    }


def example_inputs(role: str, tc: TransformerConfig, batch: int, n_new: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    L, K, P = tc.length, tc.codebook, packed_width(tc)
    if role == "base":
        tokens = rng.integers(0, K, size=(batch, L))
        tokens[rng.random((batch, L)) < 0.5] = K
        classes = rng.integers(0, tc.num_classes + 1, size=batch)
        classes[-1] = tc.num_classes  # the unconditional row
        return {"tokens": tokens.astype(np.int32), "classes": classes.astype(np.int32)}
    if role == "head":
        return {"feature": rng.standard_normal((batch, L, P)).astype(np.float32)}
    if role == "shortcut":
        pos = np.stack([rng.permutation(L)[:n_new] for _ in range(batch)])
        return {"feature": rng.standard_normal((batch, L, P)).astype(np.float32),
                "newTokens": rng.integers(0, K, size=(batch, n_new)).astype(np.int32),
                "newPositions": pos.astype(np.int32), "ratio": rng.uniform(0, 1, size=batch).astype(np.float32)}
    if role == "decoder":
        return {"tokens": rng.integers(0, K, size=(batch, L)).astype(np.int32)}
    raise KeyError(role)


def graph_modules(base, vq, sc) -> dict:
    g = base.cfg.grid
    mods = {"base": BaseGraph(base), "head": HeadGraph(base), "decoder": DecoderGraph(vq, (g, g))}
    if sc is not None:
        mods["shortcut"] = ShortcutGraph(sc, base.cfg)
    return {k: m.eval() for k, m in mods.items()}


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# --- the bundle ------------------------------------------------------------------------------------------

def class_names(path: str | None, count: int) -> list[str]:
    if path is None and count != 1000:
        return [f"class {i}" for i in range(count)]
    path = path or CLASS_NAMES_FILE
    try:
        with open(path, encoding="utf-8") as fh:
            names = [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise ImportMaskgitError(f"--class-names: cannot read {path} ({exc.strerror})") from None
    if len(names) != count:
        raise ImportMaskgitError(f"--class-names: {path} has {len(names)} names, the model has {count} classes")
    if len(set(names)) != len(names):
        raise ImportMaskgitError(f"--class-names: {path} repeats a name")
    return names


def write_bundle(base: MaskGitTransformer, vq: VqganDecoder, sc: MaskGitShortcut | None, out: str, *,
                 dtype: str = "fp32", names: list[str], name: str, description: str, provenance: dict,
                 log=print) -> dict:
    """Exports every graph into a temporary folder beside `out`, validates the manifest, then moves the
    folder into place: on any failure nothing is left at `out`."""
    check_out(out, ImportMaskgitError)
    tc = base.cfg
    image = tc.grid * vq.factor
    specs = graph_specs(tc, image)
    mods = graph_modules(base, vq, sc)
    params = {"base": count_parameters(base), "head": tc.length * tc.codebook + tc.codebook * tc.dim,
              "decoder": count_parameters(vq), "shortcut": count_parameters(sc) if sc is not None else 0}
    with staged(out, ".import-maskgit-") as tmp:
        files = {}
        for role, mod in mods.items():
            rel = f"{role}.onnx"
            if dtype == "fp16":
                mod = store_fp16(_copy(mod))
            fused = layers.FUSED_ATTENTION_EXPORT and role in ("base", "shortcut")
            log(f"import-maskgit: exporting {role} ({params[role]:,} parameters, {dtype})")
            export.export_module(mod, example_inputs(role, tc, 2, 5, 0), specs[role], os.path.join(tmp, rel), fused,
                                 fold=dtype == "fp32")
            files[role] = rel
        entries = [man.file_entry(tmp, f) for f in files.values()]
        sha = {e["path"]: e["sha256"] for e in entries}
        graphs = {}
        for role, rel in files.items():
            ins, outs = specs[role]
            g = {"file": rel, "opset": export.OPSET, "parameters": params[role], "inputs": ins, "outputs": outs}
            if role == "head":
                g["affine"] = True  # feature . E^T + b
            if role == "shortcut":
                g["trainedSteps"] = TRAINED_STEPS
                g["compatibility"] = {"baseSha256": sha[files["base"]], "codebookSize": tc.codebook,
                                      "featureDim": packed_width(tc)}
            graphs[role] = g
        manifest = {
            "schemaVersion": 1, "name": name, "version": "1.0.0", "description": description,
            "license": "see the upstream weights' licenses (docs/paper-model.md)", "family": "maskgit",
            "image": {"width": image, "height": image, "channels": 3, "range": [0, 1]},
            "tokens": {"grid": [tc.grid, tc.grid], "count": tc.length, "codebookSize": tc.codebook,
                       "maskId": tc.codebook, "patchSize": vq.factor},
            "condition": {"type": "class", "numClasses": tc.num_classes, "nullClassId": tc.num_classes,
                          "classNames": names},
            "featureDim": packed_width(tc),
            "sampling": dict(PAPER_SAMPLING, steps=min(PAPER_SAMPLING["steps"], tc.length),
                             budget=min(PAPER_SAMPLING["budget"], tc.length)),
            "graphs": graphs, "files": entries,
            "training": dict(provenance, dtype=dtype, featureLayout=FEATURE_LAYOUT % (tc.dim, tc.length, tc.dim),
                             architecture={
                "transformer": asdict(tc), "vqgan": vq.params,
                **({"shortcut": asdict(sc.cfg)} if sc is not None else {})}),
        }
        man.write(manifest, tmp)
    return manifest


def _copy(mod: nn.Module) -> nn.Module:
    import copy
    return copy.deepcopy(mod)


# --- reference-layout files (tests and --random-init --write-checkpoints) --------------------------------

def write_reference_files(base, vq, sc, folder: str) -> dict:
    """Saves modules in the released files' layout: MaskGIT_ImageNet_512.pth {'model_state_dict'},
    VQGAN/model.yaml + VQGAN/last.ckpt {'state_dict'} (with encoder and loss keys, as taming saves them),
    maskgit-shortcut.pth (plain state dict without wte/wpe)."""
    import yaml

    os.makedirs(os.path.join(folder, "VQGAN"), exist_ok=True)
    paths = {"vit": os.path.join(folder, "MaskGIT_ImageNet_512.pth"), "vqgan": os.path.join(folder, "VQGAN")}
    torch.save({"model_state_dict": base.state_dict(), "iter": 0, "global_epoch": 0}, paths["vit"])
    state = dict(vq.state_dict())
    state["encoder.conv_in.weight"] = torch.zeros(vq.params["ddconfig"]["ch"], 3, 3, 3)
    state["quant_conv.weight"] = torch.zeros(vq.params["embed_dim"], vq.params["ddconfig"]["z_channels"], 1, 1)
    state["loss.logvar"] = torch.zeros(())
    torch.save({"state_dict": state, "epoch": 0}, os.path.join(folder, "VQGAN", "last.ckpt"))
    with open(os.path.join(folder, "VQGAN", "model.yaml"), "w") as fh:
        yaml.safe_dump({"model": {"base_learning_rate": 4.5e-6, "target": "taming.models.vqgan.VQModel",
                                  "params": dict(vq.params, lossconfig={"target": "taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator"})}}, fh)
    if sc is not None:
        paths["shortcut"] = os.path.join(folder, "maskgit-shortcut.pth")
        torch.save(sc.state_dict(), paths["shortcut"])
    return paths
