"""Reading the released checkpoints: strict key/shape checks, architecture read from shapes and model.yaml."""
from __future__ import annotations

import contextlib
import math
import os
import pickle
import re

import torch
from torch import nn

from ..mismatch import describe_mismatch, some
from .shortcut import ShortcutConfig
from .transformer import TransformerConfig
from .vqgan import DDCONFIG_KEYS

# VQGAN checkpoint keys that decoding does not need: the encoder half and the training loss (LPIPS +
# discriminator). They are skipped, counted, and never loaded; every other key must match the modules.
VQGAN_UNUSED_PREFIXES = ("encoder.", "quant_conv.", "loss.")


class ImportMaskgitError(ValueError):
    """A checkpoint, config or argument that cannot be imported; nothing is written."""


class CheckpointMismatchError(ImportMaskgitError):
    """Strict loading failed: the checkpoint's keys or shapes are not the module's."""

    def __init__(self, what: str, missing: list[str], unexpected: list[str], misshaped: list[tuple]):
        self.missing, self.unexpected, self.misshaped = missing, unexpected, misshaped
        super().__init__(f"{what} does not match the module (strict loading): "
                         + describe_mismatch(missing, unexpected, misshaped, "checkpoint"))


@contextlib.contextmanager
def unexpected_content(what: str):
    """Turns the errors a tensor of an unexpected rank or a config value of an unexpected type raises while
    reading architecture from shapes (IndexError on a 0-d tensor, ZeroDivisionError, ...) into one typed error."""
    try:
        yield
    except ImportMaskgitError:
        raise
    except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError, RuntimeError, AttributeError) as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise ImportMaskgitError(f"{what} do not have the layout the importer reads ({type(exc).__name__}: {detail}); "
                                 "nothing was written") from None


def load_strict(module: nn.Module, state: dict, what: str, skip_prefixes: tuple[str, ...] = ()) -> int:
    """Loads `state` into `module` only if every persistent key is present with its exact shape and nothing
    else is there (keys under `skip_prefixes` excepted). Returns the number of skipped keys."""
    want = module.state_dict()
    skipped = [k for k in state if k.startswith(skip_prefixes)] if skip_prefixes else []
    missing = sorted(k for k in want if k not in state)
    unexpected = sorted(k for k in state if k not in want and not (skip_prefixes and k.startswith(skip_prefixes)))
    misshaped = [(k, tuple(state[k].shape), tuple(want[k].shape)) for k in sorted(want)
                 if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    if missing or unexpected or misshaped:
        raise CheckpointMismatchError(what, missing, unexpected, misshaped)
    module.load_state_dict({k: state[k].float() for k in want}, strict=True)
    return len(skipped)


# Checkpoints are read with torch's weights-only unpickler: tensors, storages and plain containers, nothing that
# can run code. The published taming VQGAN `last.ckpt` (PyTorch Lightning 1.x) also holds its ModelCheckpoint
# callback's state under the callback's class, used as a dict key; that one name is mapped to an inert marker
# class (nothing of Lightning is imported or called). Any other global is refused before anything is built.
ALLOWED_CHECKPOINT_GLOBALS = ("pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",)


class UnsafeCheckpointError(ImportMaskgitError):
    """A checkpoint holds Python objects besides tensors (globals outside the allowlist); nothing was loaded."""

    def __init__(self, what: str, path: str, names: list[str], detail: str = ""):
        self.names = names
        held = ", ".join(names) if names else (detail or "objects that are not tensors")
        super().__init__(
            f"{what}: {path} holds Python objects besides tensors ({held}); it is refused because unpickling them "
            "could run code. Only tensors, plain containers and "
            f"{', '.join(ALLOWED_CHECKPOINT_GLOBALS)} (as an inert marker) are read; nothing was written")


class _AllowedMarker:
    """What an allowlisted class name loads as: a bare marker, never the library's class."""


def _markers() -> list:
    out = []
    for name in ALLOWED_CHECKPOINT_GLOBALS:
        module, _, attr = name.rpartition(".")
        out.append((type(attr, (_AllowedMarker,), {"__module__": "migm_train.allowed." + module}), name))
    return out


_GLOBAL_NAME = re.compile(r"(?:GLOBAL|global|class|function)\s+([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+)")


def _refused_names(exc: BaseException) -> list[str]:
    names = []
    for m in _GLOBAL_NAME.finditer(str(exc)):
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def torch_load(path: str, what: str):
    """Loads a PyTorch checkpoint with `weights_only=True` (and the allowlist above on torch >= 2.6);
    refuses anything else with UnsafeCheckpointError."""
    if not os.path.isfile(path):
        raise ImportMaskgitError(f"{what}: {path} is not a file")
    ser = torch.serialization
    allow = getattr(ser, "safe_globals", None)  # torch >= 2.5: a context manager, (marker, "module.Name") pairs
    try:
        if allow is not None:
            with allow(_markers()):
                return torch.load(path, map_location="cpu", weights_only=True)
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        names = _refused_names(exc)
        if allow is None and names and all(n in ALLOWED_CHECKPOINT_GLOBALS for n in names):
            raise ImportMaskgitError(
                f"{what}: {path} holds {', '.join(names)}; this PyTorch ({torch.__version__}) cannot allowlist it "
                "for weights-only loading. Run the importer in the project's environment (training/.venv, "
                "PyTorch >= 2.6); nothing was written") from None
        raise UnsafeCheckpointError(what, path, names, text.splitlines()[0][:200] if text else "") from None
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise ImportMaskgitError(f"{what}: {path} is not a PyTorch checkpoint ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None


def _tensors(obj, what: str, path: str) -> dict:
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ImportMaskgitError(f"{what}: {path} holds no state dict of tensors")
    keys = list(obj)
    if all(k.startswith("module.") for k in keys):  # saved from a DistributedDataParallel wrapper
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def _require(sd: dict, keys: list[str], what: str, path: str, layout: str) -> None:
    absent = [k for k in keys if k not in sd]
    if absent:
        raise ImportMaskgitError(f"{what}: {path} is not a {layout} checkpoint: it lacks {', '.join(absent)} "
                                 f"(it has {len(sd)} keys, e.g. {some(sorted(sd), 5)})")


# --- the transformer -------------------------------------------------------------------------------------

def read_transformer(path: str) -> dict:
    obj = torch_load(path, "--vit")
    if isinstance(obj, dict) and "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    return _tensors(obj, "--vit", path)


def transformer_config(sd: dict, codebook: int, heads: int, path: str = "--vit") -> TransformerConfig:
    layout = "MaskGIT transformer (valeoai MaskGIT-pytorch MaskTransformer)"
    _require(sd, ["tok_emb.weight", "pos_emb", "bias", "transformer.layers.0.1.fn.net.0.weight"], "--vit", path,
             layout)
    vocab, dim = sd["tok_emb.weight"].shape
    seq = sd["pos_emb"].shape[1]
    grid = math.isqrt(seq - 1)
    if sd["pos_emb"].dim() != 3 or grid * grid != seq - 1:
        raise ImportMaskgitError(f"--vit: pos_emb {list(sd['pos_emb'].shape)} is not [1, rows * cols + 1, D] "
                                 "with a square token grid")
    classes = vocab - codebook - 2
    if classes < 1:
        raise ImportMaskgitError(f"--vit: tok_emb has {vocab} rows, too few for the VQGAN's codebook of {codebook} "
                                 "(it needs codebook + 1 mask + classes + 1 null rows): another tokenizer's model?")
    depth = 0
    while f"transformer.layers.{depth}.0.norm.weight" in sd:
        depth += 1
    mlp = sd["transformer.layers.0.1.fn.net.0.weight"].shape[0]
    if dim % heads:
        raise ImportMaskgitError(f"--heads {heads} does not divide the transformer's width {dim}")
    return TransformerConfig(dim=dim, depth=depth, heads=heads, mlp=mlp, grid=grid, codebook=codebook,
                             num_classes=classes)


# --- the VQGAN -------------------------------------------------------------------------------------------

def read_vqgan_params(folder: str) -> dict:
    if not os.path.isdir(folder):
        raise ImportMaskgitError(f"--vqgan: {folder} is not a folder (it should hold model.yaml and last.ckpt)")
    yml = os.path.join(folder, "model.yaml")
    if not os.path.isfile(yml):
        raise ImportMaskgitError(f"--vqgan: {folder} has no model.yaml (the taming-transformers config with "
                                 "model.params.{embed_dim, n_embed, ddconfig}); it is needed to know the decoder's shape")
    import yaml  # python3-yaml (scripts/setup.sh)

    try:
        with open(yml) as fh:
            cfg = yaml.safe_load(fh)
        params = cfg["model"]["params"]
        out = {"embed_dim": int(params["embed_dim"]), "n_embed": int(params["n_embed"]),
               "ddconfig": dict(params["ddconfig"])}
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ImportMaskgitError(f"--vqgan: {yml} has no model.params.{{embed_dim, n_embed, ddconfig}} ({exc})") from None
    absent = [k for k in DDCONFIG_KEYS if k not in out["ddconfig"]]
    if absent:
        raise ImportMaskgitError(f"--vqgan: {yml} ddconfig lacks {', '.join(absent)}")
    return out


def read_vqgan_state(folder: str) -> dict:
    path = os.path.join(folder, "last.ckpt")
    if not os.path.isfile(path):
        raise ImportMaskgitError(f"--vqgan: {folder} has no last.ckpt")
    obj = torch_load(path, "--vqgan")
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    sd = _tensors(obj, "--vqgan", path)
    _require(sd, ["quantize.embedding.weight", "post_quant_conv.weight", "decoder.conv_in.weight"], "--vqgan", path,
             "taming-transformers VQModel")
    return sd


# --- the shortcut ----------------------------------------------------------------------------------------

def read_shortcut(path: str) -> dict:
    obj = torch_load(path, "--shortcut")
    return _tensors(obj, "--shortcut", path)


def shortcut_config(sd: dict, base_dim: int, heads: int, path: str = "--shortcut") -> ShortcutConfig:
    _require(sd, ["blocks.0.cross_attn.norm.weight", "blocks.0.cross_attn_ff.fn.net.0.weight"], "--shortcut", path,
             "MIGM-Shortcut MaskGITShortcut")
    width = sd["blocks.0.cross_attn.norm.weight"].shape[0]
    dim = sd["proj_in.weight"].shape[1] if "proj_in.weight" in sd else width
    if dim != base_dim:
        raise ImportMaskgitError(f"--shortcut: {path} was trained for feature width {dim}; the transformer's width is "
                                 f"{base_dim} (a shortcut for another base model)")
    if width % heads:
        raise ImportMaskgitError(f"--shortcut-heads {heads} does not divide the shortcut's width {width}")
    blocks = 0
    while f"blocks.{blocks}.cross_attn.norm.weight" in sd:
        blocks += 1
    embed_t = "time_embedder.mlp.0.weight" in sd
    t_hidden, freq = sd["time_embedder.mlp.0.weight"].shape if embed_t else (0, 256)
    return ShortcutConfig(dim=dim, width=width, blocks=blocks, heads=heads,
                          mlp=sd["blocks.0.cross_attn_ff.fn.net.0.weight"].shape[0], embed_t=embed_t, freq=freq,
                          time_hidden=t_hidden)
