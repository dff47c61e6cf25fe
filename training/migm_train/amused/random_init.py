"""`import-amused --random-init --config small|256|512`: a model folder in the published layout from random
weights (for tests and timing; such a folder is then imported like a downloaded one).

256 and 512 are aMUSEd-256 / aMUSEd-512's architectures (transformer/config.json, vqvae/config.json, CLIP-L/14's
text config as published); small is a tiny one for CI (4 x 4 tokens, codebook 16, 16 x 16 pixels) that still
has every kind of block (down/up-sampling, kv_mapper, mid-block attention in the VQ decoder). The tokenizer is
always CLIP's real vocabulary, built from open-clip-torch's merges file.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import torch
from torch import nn

from ..staging import check_out, staged
from .errors import ImportAmusedError
from .text import build_text_model, clip_l14_config_json, write_tokenizer_folder
from .uvit import UVit2D, UVitConfig
from .vq import VqDecoderModel, vq_params


@dataclass(frozen=True)
class FolderConfig:
    name: str
    uvit: UVitConfig
    vq: dict  # vqvae/config.json
    text: dict  # text_encoder/config.json


def _vq_json(block_out, layers, latent, codes, groups, mid_attention) -> dict:
    n = len(block_out)
    return {"_class_name": "VQModel", "_diffusers_version": "0.25.0", "act_fn": "silu",
            "block_out_channels": list(block_out), "down_block_types": ["DownEncoderBlock2D"] * n,
            "up_block_types": ["UpDecoderBlock2D"] * n, "in_channels": 3, "out_channels": 3,
            "latent_channels": latent, "layers_per_block": layers, "norm_num_groups": groups,
            "num_vq_embeddings": codes, "vq_embed_dim": None, "sample_size": 32, "scaling_factor": 0.18215,
            "norm_type": "group", "mid_block_add_attention": mid_attention, "lookup_from_codebook": True,
            "force_upcast": False}


def _amused_vq() -> dict:
    return _vq_json([128, 256, 256, 512, 768], 2, 64, 8192, 32, False)


CONFIGS = {
    "small": lambda: FolderConfig(
        "small",
        UVitConfig(hidden_size=32, cond_embed_dim=16, micro_cond_encode_dim=4, micro_cond_embed_dim=20,
                   encoder_hidden_size=24, vocab_size=18, codebook_size=16, in_channels=16, block_out_channels=24,
                   num_res_blocks=1, downsample=True, upsample=True, block_num_heads=2, num_hidden_layers=2,
                   num_attention_heads=4, intermediate_size=48, sample_size=4),
        _vq_json([16, 16, 32], 1, 8, 16, 8, True),
        dict(clip_l14_config_json(), hidden_size=24, intermediate_size=48, projection_dim=16, num_hidden_layers=2,
             num_attention_heads=2)),
    "256": lambda: FolderConfig("256", UVitConfig(sample_size=16), _amused_vq(), clip_l14_config_json()),
    "512": lambda: FolderConfig("512", UVitConfig(downsample=True, upsample=True, sample_size=32), _amused_vq(),
                                clip_l14_config_json()),
}

MODEL_INDEX = {"_class_name": "AmusedPipeline", "_diffusers_version": "0.25.0",
               "scheduler": ["diffusers", "AmusedScheduler"],
               "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
               "tokenizer": ["transformers", "CLIPTokenizer"], "transformer": ["diffusers", "UVit2DModel"],
               "vqvae": ["diffusers", "VQModel"]}


def _perturb(module: nn.Module, gen: torch.Generator) -> None:
    """Moves parameters that start at exact constants (norm scales at 1, GRN at 0) off them, so that tests
    exercise every weight; everything else keeps PyTorch's / transformers' initialisation."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("gamma", "beta"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1 and "norm" in name and leaf == "weight":
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))


def random_models(cfg: FolderConfig, seed: int = 0):
    from transformers import CLIPTextConfig

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    uvit = UVit2D(cfg.uvit)
    vq = VqDecoderModel(vq_params(cfg.vq))
    text = build_text_model(CLIPTextConfig(**{k: v for k, v in cfg.text.items() if k != "architectures"}))
    for m in (uvit, vq):
        _perturb(m, gen)
    return uvit, vq, text


def _save(state: dict, path: str, half: bool) -> None:
    from safetensors.torch import save_file

    save_file({k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in state.items()}, path,
              metadata={"format": "pt"})


def write_folder(cfg: FolderConfig, out: str, seed: int = 0, variants: tuple = ("", "fp16"), log=print) -> str:
    """Writes the published layout (fp32 files and the fp16 variant) into a temporary folder beside `out`, then
    renames it into place."""
    check_out(out, ImportAmusedError)
    uvit, vq, text = random_models(cfg, seed)
    # safetensors and mkdtemp make files and the folder private: public_files
    with staged(out, ".amused-folder-", public_files=True) as tmp:
        def dump(obj, rel):
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as fh:
                json.dump(obj, fh, indent=2)

        # marks the folder as random so that its bundles say so (diffusers ignores keys it does not know)
        dump(dict(MODEL_INDEX, _migm_random_weights={"config": cfg.name, "seed": seed}), "model_index.json")
        dump(cfg.uvit.to_json(), "transformer/config.json")
        dump(cfg.vq, "vqvae/config.json")
        dump(cfg.text, "text_encoder/config.json")
        dump({"_class_name": "AmusedScheduler", "_diffusers_version": "0.25.0",
              "mask_token_id": cfg.uvit.mask_token_id, "masking_schedule": "cosine"}, "scheduler/scheduler_config.json")
        write_tokenizer_folder(os.path.join(tmp, "tokenizer"))
        vq_state = dict(vq.state_dict())
        # The published file also holds the encoder half (skipped by the importer); two of its tensors stand in.
        ch, latent = cfg.vq["block_out_channels"], cfg.vq["latent_channels"]
        vq_state["encoder.conv_in.weight"] = torch.zeros(ch[0], 3, 3, 3)
        vq_state["quant_conv.weight"] = torch.zeros(latent, latent, 1, 1)
        for variant in variants:
            suffix = f".{variant}" if variant else ""
            log(f"import-amused: writing the {cfg.name} folder's{' ' + variant if variant else ''} weights")
            _save(uvit.state_dict(), os.path.join(tmp, "transformer", f"diffusion_pytorch_model{suffix}.safetensors"),
                  variant == "fp16")
            _save(vq_state, os.path.join(tmp, "vqvae", f"diffusion_pytorch_model{suffix}.safetensors"),
                  variant == "fp16")
            _save(text.state_dict(), os.path.join(tmp, "text_encoder", f"model{suffix}.safetensors"),
                  variant == "fp16")
    return out
