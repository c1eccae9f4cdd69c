"""Diffusion transformer on the latent: ReLU linear self-attention, cross-attention to text, GLUMBConv, adaLN-single."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from acegit.engine.conditioning import Conditions, GlobalConditioner, ScalarEmbedder
from acegit.engine.config import DiTConfig

LINEAR_ATTENTION_EPS = 1e-15  # added to the normaliser (Sana LiteLA); the sums are >= 0 after ReLU


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """ReLU linear attention: out_i = sum_j (φ(q_i)·φ(k_j)) v_j / (sum_j φ(q_i)·φ(k_j) + eps), φ = ReLU.

    (B, h, N, d) each -> (B, h, N, d). The normaliser rides along as a column of ones padded onto V, and the whole
    computation runs in float32 (Sana's LiteLA). Cost is linear in N.
    """
    dtype = v.dtype
    q, k, v = F.relu(q.float()), F.relu(k.float()), v.float()
    v = F.pad(v, (0, 1), value=1.0)  # (B, h, N, d+1)
    kv = k.transpose(-1, -2) @ v  # (B, h, d, d+1)
    out = q @ kv  # (B, h, N, d+1)
    return (out[..., :-1] / (out[..., -1:] + LINEAR_ATTENTION_EPS)).to(dtype)


class SelfAttention(nn.Module):
    """Multi-head self-attention over latent frames: linear (default) or softmax (benchmark only)."""

    def __init__(self, hidden: int, heads: int, softmax: bool = False) -> None:
        super().__init__()
        self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.proj = nn.Linear(hidden, hidden)
        self.heads = heads
        self.softmax = softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 3 × (B, h, N, hd)
        o = F.scaled_dot_product_attention(q, k, v) if self.softmax else linear_attention(q, k, v)
        return self.proj(o.transpose(1, 2).reshape(B, N, C))  # (B, N, C)


class CrossAttention(nn.Module):
    """Softmax attention from latent frames to the condition tokens (text plus one learned register)."""

    def __init__(self, hidden: int, heads: int) -> None:
        super().__init__()
        self.q = nn.Linear(hidden, hidden)
        self.kv = nn.Linear(hidden, 2 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.heads = heads

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        L = ctx.shape[1]
        q = self.q(x).view(B, N, self.heads, C // self.heads).transpose(1, 2)  # (B, h, N, hd)
        k, v = self.kv(ctx).view(B, L, 2, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # 2 × (B, h, L, hd)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])  # mask (B, 1, 1, L)
        return self.proj(o.transpose(1, 2).reshape(B, N, C))


class DepthwiseConv(nn.Module):
    """Depthwise conv over time on (B, N, C) as a sum of shifted copies: zero padding, no layout change."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        assert kernel % 2 == 1
        self.weight = nn.Parameter(torch.randn(kernel, channels) / kernel)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, circular: bool = False) -> torch.Tensor:
        K, N = self.weight.shape[0], x.shape[1]
        # A loop wraps around: its last frames are its first frames' left neighbours.
        wrap = torch.cat([x[:, N - K // 2 :], x, x[:, : K // 2]], dim=1) if circular else None
        xp = wrap if wrap is not None else F.pad(x, (0, 0, K // 2, K // 2))  # (B, N + K - 1, C)
        out = torch.addcmul(self.bias, xp[:, 0:N], self.weight[0])
        for j in range(1, K):
            out = torch.addcmul(out, xp[:, j : j + N], self.weight[j])  # fused multiply-add, one pass per tap
        return out


class GLUMBConv(nn.Module):
    """Mixed FFN (Sana / ACE-Step): expand with SiLU, depthwise conv over time, gated linear unit, project."""

    def __init__(self, hidden: int, ratio: float, kernel: int) -> None:
        super().__init__()
        inner = int(hidden * ratio)
        self.fc1 = nn.Linear(hidden, 2 * inner)
        self.conv = DepthwiseConv(2 * inner, kernel)
        self.fc2 = nn.Linear(inner, hidden)

    def forward(self, x: torch.Tensor, circular: bool = False) -> torch.Tensor:
        h, gate = self.conv(F.silu(self.fc1(x)), circular).chunk(2, dim=-1)  # 2 × (B, N, inner)
        return self.fc2(h * F.silu(gate))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class Block(nn.Module):
    """adaLN-single block: the shared timestep projection plus a per-block learned table gives shift/scale/gate."""

    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        d = cfg.hidden
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(d, cfg.heads, cfg.softmax_self_attention)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.cross = CrossAttention(d, cfg.heads)
        self.norm3 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ffn = GLUMBConv(d, cfg.mlp_ratio, cfg.conv_kernel)
        self.table = nn.Parameter(torch.randn(6, d) / d**0.5)

    def forward(
        self, x: torch.Tensor, t6: torch.Tensor, ctx: torch.Tensor, mask: torch.Tensor, circular: bool = False
    ) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = (self.table[None] + t6).unbind(1)  # 6 × (B, d)
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))
        x = x + self.cross(self.norm2(x), ctx, mask)
        return x + gate2[:, None] * self.ffn(modulate(self.norm3(x), shift2, scale2), circular)


class DiT(nn.Module):
    """Velocity model v(x, sigma, conditions) on latents (B, C, F, T): one token per latent frame."""

    def __init__(self, cfg: DiTConfig, latent_rate: float) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_rate = latent_rate
        d = cfg.hidden
        self.x_in = nn.Linear(cfg.in_channels, d)
        self.melody_in = nn.Linear(cfg.melody_pitches, d)
        self.beats_in = nn.Linear(4 * cfg.beat_harmonics, d)
        self.text_in = nn.Sequential(nn.LayerNorm(cfg.text_dim), nn.Linear(cfg.text_dim, d))
        self.register = nn.Parameter(torch.randn(1, 1, d) * 0.02)  # always attendable: the null prompt is this alone
        self.t_embed = ScalarEmbedder(d)
        self.global_cond = GlobalConditioner(d)
        self.g_embed = ScalarEmbedder(d) if cfg.guidance_embed else None  # the scale a student distils
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.out_table = nn.Parameter(torch.randn(2, d) / d**0.5)
        self.x_out = nn.Linear(d, cfg.in_channels)
        self.initialize()

    def initialize(self) -> None:
        """All initialisation in one place (DiT): xavier linears, zero output so training starts from v = 0."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in self.modules():  # cross-attention starts as a no-op (PixArt)
            if isinstance(m, CrossAttention):
                nn.init.zeros_(m.proj.weight)
        nn.init.zeros_(self.melody_in.weight)  # a melody starts as no change, so melody-free training is undisturbed
        nn.init.zeros_(self.x_out.weight)
        nn.init.zeros_(self.x_out.bias)
        if self.g_embed is not None:  # a student starts as its teacher's conditional branch
            last = self.g_embed.mlp[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)

    def forward(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor,
        cond: Conditions,
        circular: bool = False,
        guidance: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity (B, C, F, T). circular=True makes time periodic: with periodic conditions the model is then
        exactly shift-equivariant (attention is order-free; the depthwise conv is the only local mixing), so a loop's
        seam is generated like any other frame boundary. `guidance` (B,): the scale, for a guidance-distilled DiT
        only (its velocity is then the guided one); 1 is the conditional branch."""
        B, C, Fq, T = x.shape
        h = self.x_in(x.reshape(B, C * Fq, T).transpose(1, 2))  # (B, T, C*F) -> (B, T, d)
        h = h + self.melody_in(cond.melody.transpose(1, 2)) + self.beats_in(cond.beats)  # (B, T, d)
        ctx = torch.cat([self.register.expand(B, -1, -1), self.text_in(cond.text)], dim=1)  # (B, 1 + L, d)
        mask = F.pad(cond.text_mask, (1, 0), value=True)  # (B, 1 + L)
        c = self.t_embed(sigma * 1000) + self.global_cond(cond)  # (B, d)
        if self.g_embed is not None and guidance is not None:
            c = c + self.g_embed(guidance * 100)
        elif self.g_embed is not None or guidance is not None:
            raise ValueError("a guidance scale goes to a guidance-distilled DiT, and only to one")
        t6 = self.t_block(c).view(B, 6, -1)  # (B, 6, d)
        for block in self.blocks:
            h = block(h, t6, ctx, mask, circular)
        shift, scale = (self.out_table[None] + c[:, None]).unbind(1)  # 2 × (B, d)
        out = self.x_out(modulate(self.norm_out(h), shift, scale))  # (B, T, C*F)
        return out.transpose(1, 2).reshape(B, C, Fq, T)
