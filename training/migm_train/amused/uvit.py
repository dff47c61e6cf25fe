"""aMUSEd's U-ViT (diffusers' `UVit2DModel`), written for this toolkit with diffusers' exact parameter names so
that the published `transformer/diffusion_pytorch_model[.fp16].safetensors` loads strictly.

Structure (config from transformer/config.json): encoder_proj + RMSNorm on the text states; micro-conditioning
(5 numbers, sinusoidal embedding flip_sin_to_cos, shift 0) after the pooled text embedding -> cond_embed
(Linear-SiLU-Linear); token embedding + RMSNorm + 1x1 conv; down block (optional 2x2 down-sampling, then
ConvNeXt res blocks each followed by a SkipFF block of two cross-attentions to the text); RMSNorm + Linear into
the transformer width; BasicTransformerBlocks (AdaLayerNormContinuous, self-attention, cross-attention, GEGLU);
back to the block width; the up block (res + SkipFF blocks, optional 2x2 transposed-conv up-sampling); the
mlm_layer head (1x1 conv, RMSNorm, 1x1 conv to the codebook's logits). No attention mask on the text.
"""
from __future__ import annotations

import math
from dataclasses import asdict, make_dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .. import layers

# transformer/config.json's keys that decide the module's shape (the rest, e.g. dropout rates, are inert here),
# with diffusers' defaults (= aMUSEd-256).
UVIT_DEFAULTS = {
    "hidden_size": 1024, "use_bias": False, "cond_embed_dim": 768, "micro_cond_encode_dim": 256,
    "micro_cond_embed_dim": 1280, "encoder_hidden_size": 768, "vocab_size": 8256, "codebook_size": 8192,
    "in_channels": 768, "block_out_channels": 768, "num_res_blocks": 3, "downsample": False, "upsample": False,
    "block_num_heads": 12, "num_hidden_layers": 22, "num_attention_heads": 16, "intermediate_size": 2816,
    "layer_norm_eps": 1e-6, "ln_elementwise_affine": True, "sample_size": 16,
}
UVIT_KEYS = tuple(UVIT_DEFAULTS)


class _UVitConfigMethods:
    @property
    def mask_token_id(self) -> int:
        return self.vocab_size - 1

    def to_json(self) -> dict:
        return {"_class_name": "UVit2DModel", "_diffusers_version": "0.25.0", "attention_dropout": 0.0,
                "hidden_dropout": 0.0, **asdict(self)}


# UVit2DModel's constructor arguments (its config.json keys) as one frozen dataclass, made from the table above so
# that the names are written once; a field's type is its default's (folder.py casts config.json's values to it).
UVitConfig = make_dataclass("UVitConfig", [(k, type(v), v) for k, v in UVIT_DEFAULTS.items()],
                            bases=(_UVitConfigMethods,), frozen=True)
UVitConfig.__module__ = __name__
UVitConfig.__doc__ = "UVit2DModel's constructor arguments (defaults: diffusers' defaults = aMUSEd-256)."


class RMSNorm(nn.Module):
    """diffusers' RMSNorm: x / sqrt(mean(x^2) + eps), times `weight` when elementwise_affine."""

    def __init__(self, dim: int, eps: float, elementwise_affine: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if elementwise_affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * self.weight if self.weight is not None else x


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN over channels-last [b, h, w, c]."""

    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ||x||_2 over (h, w), written as sqrt(sum x^2): torch.norm over two dims exports to the same ops
        gx = torch.sqrt((x * x).sum(dim=(1, 2), keepdim=True))
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class Attention(nn.Module):
    """diffusers' `Attention` as aMUSEd configures it: to_q / to_k / to_v / to_out.0, scale dim_head^-0.5, no
    q/k norm, no residual. Exports as onnxruntime's fused com.microsoft MultiHeadAttention (no bias input, so it
    also runs on onnxruntime-web's WebGPU kernel for keys of another length) unless
    layers.FUSED_ATTENTION_EXPORT is off."""

    def __init__(self, query_dim: int, heads: int, dim_head: int, bias: bool, out_bias: bool,
                 cross_attention_dim: int | None = None):
        super().__init__()
        inner = heads * dim_head
        kv = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(kv, inner, bias=bias)
        self.to_v = nn.Linear(kv, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim, bias=out_bias), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)
        if layers.FUSED_ATTENTION_EXPORT and torch.onnx.is_in_onnx_export():
            out = layers._FusedCrossAttention.apply(q, k, v, self.heads, self.scale)
        else:
            out = layers._attend(q, k, v, self.heads, self.scale)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, bias: bool):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    """net.0 = GEGLU, net.1 = dropout, net.2 = the output projection (diffusers' FeedForward)."""

    def __init__(self, dim: int, inner: int, bias: bool):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, inner, bias), nn.Dropout(0.0), nn.Linear(inner, dim, bias=bias)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.net:
            x = m(x)
        return x


class AdaLayerNormContinuous(nn.Module):
    """norm(x) * (1 + scale) + shift, (scale, shift) = linear(silu(cond)); norm RMSNorm or bias-less LayerNorm."""

    def __init__(self, dim: int, cond_dim: int, affine: bool, eps: float, bias: bool, kind: str):
        super().__init__()
        self.linear = nn.Linear(cond_dim, dim * 2, bias=bias)
        if kind == "rms_norm":
            self.norm = RMSNorm(dim, eps, affine)
        else:
            self.norm = nn.LayerNorm(dim, eps, elementwise_affine=affine, bias=bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(cond)).chunk(2, dim=1)
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class BasicTransformerBlock(nn.Module):
    """norm_type "ada_norm_continuous": self-attention, cross-attention to the text, GEGLU feed-forward."""

    def __init__(self, c: UVitConfig):
        super().__init__()
        d, b, eps, aff = c.hidden_size, c.use_bias, c.layer_norm_eps, c.ln_elementwise_affine
        heads = c.num_attention_heads
        self.norm1 = AdaLayerNormContinuous(d, d, aff, eps, b, "rms_norm")
        self.attn1 = Attention(d, heads, d // heads, b, b)
        self.norm2 = AdaLayerNormContinuous(d, d, aff, eps, b, "rms_norm")
        self.attn2 = Attention(d, heads, d // heads, b, b, cross_attention_dim=d)
        self.norm3 = AdaLayerNormContinuous(d, d, aff, eps, b, "layer_norm")
        self.ff = FeedForward(d, c.intermediate_size, b)

    def forward(self, x, text, cond):
        x = x + self.attn1(self.norm1(x, cond))
        x = x + self.attn2(self.norm2(x, cond), text)
        return x + self.ff(self.norm3(x, cond))


class SkipFFTransformerBlock(nn.Module):
    """Two cross-attentions to the (kv_mapper-projected) text, each pre-normed; no feed-forward."""

    def __init__(self, c: UVitConfig):
        super().__init__()
        ch, b = c.block_out_channels, c.use_bias
        self.kv_mapper = nn.Linear(c.hidden_size, ch, bias=b) if c.hidden_size != ch else None
        self.norm1 = RMSNorm(ch, 1e-6)
        self.attn1 = Attention(ch, c.block_num_heads, ch // c.block_num_heads, b, b, cross_attention_dim=ch)
        self.norm2 = RMSNorm(ch, 1e-6)
        self.attn2 = Attention(ch, c.block_num_heads, ch // c.block_num_heads, b, b, cross_attention_dim=ch)

    def forward(self, x, text):
        if self.kv_mapper is not None:
            text = self.kv_mapper(F.silu(text))
        x = x + self.attn1(self.norm1(x), text)
        return x + self.attn2(self.norm2(x), text)


class ConvNextBlock(nn.Module):
    def __init__(self, c: UVitConfig):
        super().__init__()
        ch, b = c.block_out_channels, c.use_bias
        self.depthwise = nn.Conv2d(ch, ch, kernel_size=3, padding=1, groups=ch, bias=b)
        self.norm = RMSNorm(ch, c.layer_norm_eps, c.ln_elementwise_affine)
        self.channelwise_linear_1 = nn.Linear(ch, ch * 4, bias=b)
        self.channelwise_norm = GlobalResponseNorm(ch * 4)
        self.channelwise_linear_2 = nn.Linear(ch * 4, ch, bias=b)
        self.cond_embeds_mapper = nn.Linear(c.hidden_size, ch * 2, bias=b)

    def forward(self, x, cond):
        h = self.depthwise(x).permute(0, 2, 3, 1)
        h = self.channelwise_linear_2(self.channelwise_norm(F.gelu(self.channelwise_linear_1(self.norm(h)))))
        x = h.permute(0, 3, 1, 2) + x
        scale, shift = self.cond_embeds_mapper(F.silu(cond)).chunk(2, dim=1)
        return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class _Resample(nn.Module):
    """Downsample2D (pad right/bottom by 1, 2x2 conv stride 2) or Upsample2D (2x2 transposed conv stride 2),
    each after a channels-last RMSNorm: keys `norm.weight`, `conv.weight`."""

    def __init__(self, c: UVitConfig, up: bool):
        super().__init__()
        ch = c.block_out_channels
        self.up = up
        self.norm = RMSNorm(ch, c.layer_norm_eps, c.ln_elementwise_affine)
        if up:
            self.conv = nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2, padding=0, bias=c.use_bias)
        else:
            self.conv = nn.Conv2d(ch, ch, kernel_size=2, stride=2, padding=0, bias=c.use_bias)

    def forward(self, x):
        x = self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        if not self.up:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class UVitBlock(nn.Module):
    def __init__(self, c: UVitConfig, downsample: bool, upsample: bool):
        super().__init__()
        self.downsample = _Resample(c, up=False) if downsample else None
        self.res_blocks = nn.ModuleList([ConvNextBlock(c) for _ in range(c.num_res_blocks)])
        self.attention_blocks = nn.ModuleList([SkipFFTransformerBlock(c) for _ in range(c.num_res_blocks)])
        self.upsample = _Resample(c, up=True) if upsample else None

    def forward(self, x, cond, text):
        if self.downsample is not None:
            x = self.downsample(x)
        for res, att in zip(self.res_blocks, self.attention_blocks):
            x = res(x, cond)
            b, ch, h, w = x.shape
            x = att(x.reshape(b, ch, h * w).permute(0, 2, 1), text).permute(0, 2, 1).reshape(b, ch, h, w)
        if self.upsample is not None:
            x = self.upsample(x)
        return x


class UVit2DConvEmbed(nn.Module):
    def __init__(self, c: UVitConfig):
        super().__init__()
        self.embeddings = nn.Embedding(c.vocab_size, c.in_channels)
        self.layer_norm = RMSNorm(c.in_channels, c.layer_norm_eps, c.ln_elementwise_affine)
        self.conv = nn.Conv2d(c.in_channels, c.block_out_channels, kernel_size=1, bias=c.use_bias)

    def forward(self, ids):
        return self.conv(self.layer_norm(self.embeddings(ids)).permute(0, 3, 1, 2))


class TimestepEmbedding(nn.Module):
    def __init__(self, cin: int, dim: int, bias: bool):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim, bias=bias)
        self.linear_2 = nn.Linear(dim, dim, bias=bias)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ConvMlmLayer(nn.Module):
    def __init__(self, c: UVitConfig):
        super().__init__()
        self.conv1 = nn.Conv2d(c.block_out_channels, c.in_channels, kernel_size=1, bias=c.use_bias)
        self.layer_norm = RMSNorm(c.in_channels, c.layer_norm_eps, c.ln_elementwise_affine)
        self.conv2 = nn.Conv2d(c.in_channels, c.codebook_size, kernel_size=1, bias=c.use_bias)

    def forward_rows(self, feature: torch.Tensor) -> torch.Tensor:
        """The head on channels-last rows: feature [b, L, block_out] -> logits [b, L, codebook] (the 1x1 convs
        as matrix products; the same numbers as forward())."""
        h = feature @ self.conv1.weight[:, :, 0, 0].T
        if self.conv1.bias is not None:
            h = h + self.conv1.bias
        h = self.layer_norm(h) @ self.conv2.weight[:, :, 0, 0].T
        return h + self.conv2.bias if self.conv2.bias is not None else h


def sinusoidal(x: torch.Tensor, dim: int) -> torch.Tensor:
    """get_timestep_embedding(x, dim, flip_sin_to_cos=True, downscale_freq_shift=0): [cos | sin] of
    x * exp(-ln(10000) * i / (dim / 2)), i < dim / 2."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    arg = x.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


class UVit2D(nn.Module):
    def __init__(self, c: UVitConfig):
        super().__init__()
        if c.micro_cond_embed_dim != 5 * c.micro_cond_encode_dim:
            raise ValueError("micro_cond_embed_dim must be 5 * micro_cond_encode_dim (5 micro-conditions)")
        self.cfg = c
        self.encoder_proj = nn.Linear(c.encoder_hidden_size, c.hidden_size, bias=c.use_bias)
        self.encoder_proj_layer_norm = RMSNorm(c.hidden_size, c.layer_norm_eps, c.ln_elementwise_affine)
        self.embed = UVit2DConvEmbed(c)
        self.cond_embed = TimestepEmbedding(c.micro_cond_embed_dim + c.cond_embed_dim, c.hidden_size, c.use_bias)
        self.down_block = UVitBlock(c, c.downsample, False)
        self.project_to_hidden_norm = RMSNorm(c.block_out_channels, c.layer_norm_eps, c.ln_elementwise_affine)
        self.project_to_hidden = nn.Linear(c.block_out_channels, c.hidden_size, bias=c.use_bias)
        self.transformer_layers = nn.ModuleList([BasicTransformerBlock(c) for _ in range(c.num_hidden_layers)])
        self.project_from_hidden_norm = RMSNorm(c.hidden_size, c.layer_norm_eps, c.ln_elementwise_affine)
        self.project_from_hidden = nn.Linear(c.hidden_size, c.block_out_channels, bias=c.use_bias)
        self.up_block = UVitBlock(c, False, c.upsample)
        self.mlm_layer = ConvMlmLayer(c)

    def features(self, input_ids, encoder_hidden_states, pooled_text_emb, micro_conds) -> torch.Tensor:
        """input_ids [b, h, w] (mask = vocab_size - 1) -> the hidden state entering mlm_layer [b, C, h, w]."""
        c = self.cfg
        text = self.encoder_proj_layer_norm(self.encoder_proj(encoder_hidden_states))
        b = input_ids.shape[0]
        micro = sinusoidal(micro_conds.reshape(-1), c.micro_cond_encode_dim).reshape(b, -1)
        cond = self.cond_embed(torch.cat([pooled_text_emb, micro], dim=1))
        x = self.down_block(self.embed(input_ids), cond, text)
        _, ch, h, w = x.shape
        x = self.project_to_hidden(self.project_to_hidden_norm(x.permute(0, 2, 3, 1).reshape(b, h * w, ch)))
        for layer in self.transformer_layers:
            x = layer(x, text, cond)
        x = self.project_from_hidden(self.project_from_hidden_norm(x))
        x = x.reshape(b, h, w, ch).permute(0, 3, 1, 2)
        return self.up_block(x, cond, text)

    def forward(self, input_ids, encoder_hidden_states, pooled_text_emb, micro_conds) -> torch.Tensor:
        """UVit2DModel.forward: logits [b, codebook, h, w]."""
        return self.mlm_layer.conv2(self.mlm_layer.layer_norm(
            self.mlm_layer.conv1(self.features(input_ids, encoder_hidden_states, pooled_text_emb, micro_conds))
            .permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


def count_parameters(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


class BaseGraph(nn.Module):
    """ONNX role `base`: tokens [b, L] int32 (mask = codebook_size) + textStates [b, 77, E] + pooled [b, P] +
    microConds [b, 5] -> logits [b, L, K] + feature [b, L, C] (the state entering mlm_layer, row-major h * w)."""

    def __init__(self, model: UVit2D, grid: tuple[int, int]):
        super().__init__()
        self.model, self.grid = model, grid

    def forward(self, tokens, text_states, pooled, micro_conds):
        c = self.model.cfg
        b = tokens.shape[0]
        ids = torch.where(tokens == c.codebook_size, torch.full_like(tokens, c.mask_token_id), tokens).long()
        f = self.model.features(ids.reshape(b, self.grid[0], self.grid[1]), text_states, pooled, micro_conds)
        feature = f.permute(0, 2, 3, 1).reshape(b, self.grid[0] * self.grid[1], c.block_out_channels)
        return self.model.mlm_layer.forward_rows(feature), feature


class HeadGraph(nn.Module):
    """ONNX role `head`: feature [b, L, C] -> logits [b, L, K] (mlm_layer per position; not affine: RMSNorm)."""

    def __init__(self, model: UVit2D):
        super().__init__()
        self.model = model

    def forward(self, feature):
        return self.model.mlm_layer.forward_rows(feature)
