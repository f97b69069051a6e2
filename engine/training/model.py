"""The CNN-Transformer of *Emotion-Guided Image to Music Generation* (Kundu et al., 2024), in one file.

    image ─► frozen CNN feature map (C x H x W) ─► H*W tokens ─► Linear(C→d) + 2-D position
          ─► Transformer encoder ─► image memory (H*W x d) ──┬─► mean-pool ─► MLP ─► image VA
                                                             │
    conditioning VA ─► MLP ─► one extra memory token ────────┤ (also added to every token embedding)
                                                             ▼
    music tokens ─► 3 x [causal self-attention, cross-attention over memory, MLP] ─► tied logits

The paper's "MIDI encoder" is the decoder's causal self-attention over the music so far (a
user's MIDI prompt to continue would be fed there). Nomenclature and layout follow nanoGPT.

Controls (``controls=2``, engine/training/controls.py): the conditioning vector may carry two more
numbers after the VA, the density and touch of the music. In training they are the window's
own; given the VA alone, the decoder computes them with ``control_map``, a linear map from VA
fitted on the training pieces and stored with the weights. The exported ``decoder_prep.onnx``
takes them as an input of their own, which the runtime fills from the sidecar's map plus the
piece's seeded offset (engine/generation/controls.py).

Which VA goes where (docs/DESIGN.md, Model): in training the conditioning VA is the paired
piece's VA plus N(0, 0.05) noise, and the image VA head learns the image's own label. At
inference the conditioning VA is the head's prediction, or the user's override.

**What the VA loss sees.** Under teacher forcing the decoder gives, at every position t of a
piece, logits for token t+1. Their softmax p_t (a distribution over the vocabulary, no
sampling, no temperature) forms a *soft token sequence* p_1..p_{T-1} aligned with the real
tokens x_2..x_T (padding masked out). A frozen training-time estimator
(``engine.training.va_estimator.TokenVAEstimator``, pretrained on real token sequences and their VA
labels) maps that soft sequence to a VA through expected embeddings p_t @ E. The VA loss is
the mean absolute error between that VA and the reference VA (the paired piece's label),
added to the token cross-entropy with weight ``va_loss_weight``; gradients flow through p_t
into the decoder, never into the estimator. The judge used for evaluation is a different
model on different features (``engine.music.judge``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..generation.tokens import PAD, VOCAB_SIZE
from ..generation.controls import CLIP, COUNTS


DECODERS = ("transformer", "lstm")


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = "efficientnet_lite0"
    feat_channels: int = 1280  # channels of the backbone's last feature map
    feat_tokens: int = 49  # H*W of that map (7x7 at 224 px)
    d_model: int = 192
    n_heads: int = 4
    n_enc_layers: int = 1
    n_dec_layers: int = 3  # the paper's three decoders
    d_ff: int = 768
    block_size: int = 512  # longest token context; generation slides a window beyond it
    vocab_size: int = VOCAB_SIZE
    dropout: float = 0.1
    decoder: str = "transformer"  # or "lstm" (the paper's baseline)
    controls: int = 0  # 2: the decoder also hears density and touch; 3: and range (engine.training.controls)

    def __post_init__(self) -> None:
        # a typo here used to build a Transformer silently; every run's config is checked once
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)} (received {self.decoder!r})")
        for name in ("feat_channels", "feat_tokens", "d_model", "n_heads", "n_enc_layers", "n_dec_layers", "d_ff", "block_size", "vocab_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive whole number (received {v!r})")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (received {self.dropout})")
        if self.controls not in (0, *COUNTS) or isinstance(self.controls, bool):
            raise ValueError(f"controls must be 0 or one of {COUNTS} (received {self.controls!r})")
        if self.controls and self.decoder != "transformer":
            raise ValueError("controls are for the transformer decoder only")

    def to_dict(self) -> dict:
        return asdict(self)


class MLP(nn.Module):
    def __init__(self, d: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(d, d_ff)
        self.proj = nn.Linear(d_ff, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Attention(nn.Module):
    """Multi-head attention with separate q and kv inputs, so one class serves self and cross."""

    def __init__(self, d: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        assert d % n_heads == 0, f"d_model {d} must be divisible by n_heads {n_heads}"
        self.n_heads, self.hd = n_heads, d // n_heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.proj = nn.Linear(d, d)
        self.dropout = dropout

    def heads(self, x):  # (B, T, d) -> (B, nh, T, hs)
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.hd).transpose(1, 2)

    def project_kv(self, src):
        k, v = self.kv(src).chunk(2, dim=-1)
        return self.heads(k), self.heads(v)

    def attend(self, x, k, v, causal: bool):
        q = self.heads(self.q(x))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0)
        B, _, T, _ = y.shape
        return self.proj(y.transpose(1, 2).reshape(B, T, -1))  # (B, nh, T, hs) -> (B, T, d)

    def forward(self, x, src=None, causal: bool = False):
        k, v = self.project_kv(x if src is None else src)
        return self.attend(x, k, v, causal)


class EncoderLayer(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.attn = Attention(c.d_model, c.n_heads, c.dropout)
        self.mlp = MLP(c.d_model, c.d_ff, c.dropout)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class DecoderLayer(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.self_attn = Attention(c.d_model, c.n_heads, c.dropout)
        self.cross_attn = Attention(c.d_model, c.n_heads, c.dropout)
        self.mlp = MLP(c.d_model, c.d_ff, c.dropout)

    def forward(self, x, memory):
        x = x + self.self_attn(self.ln1(x), causal=True)
        x = x + self.cross_attn(self.ln2(x), memory)
        return x + self.mlp(self.ln3(x))

    def step(self, x, cross_k, cross_v, past_k, past_v):
        """One new position. x (B, 1, d); past_k/v (B, nh, T, hs); cross_k/v precomputed from
        the memory (see MusicDecoder.prepare) → output and the grown self-attention cache."""
        h = self.ln1(x)
        k, v = self.self_attn.project_kv(h)
        k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        x = x + self.self_attn.attend(h, k, v, causal=False)  # the cache holds only the past
        x = x + self.cross_attn.attend(self.ln2(x), cross_k, cross_v, causal=False)
        return x + self.mlp(self.ln3(x)), k, v


class ImageEncoder(nn.Module):
    """Backbone feature map → image memory tokens and the image's VA."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(c.feat_channels, c.d_model)
        self.pos = nn.Parameter(torch.zeros(1, c.feat_tokens, c.d_model))
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c.n_enc_layers)])
        self.ln = nn.LayerNorm(c.d_model)
        self.va_head = nn.Sequential(nn.Linear(c.d_model, c.d_model), nn.GELU(), nn.Linear(c.d_model, 2), nn.Tanh())

    def forward(self, fmap):
        x = fmap.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H*W, C)
        x = self.proj(x) + self.pos
        for layer in self.layers:
            x = layer(x)
        x = self.ln(x)
        return x, self.va_head(x.mean(dim=1))


class MusicDecoder(nn.Module):
    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.block_size, c.d_model)
        self.va = nn.Sequential(nn.Linear(2 + c.controls, c.d_model), nn.GELU(), nn.Linear(c.d_model, c.d_model))
        if c.controls:
            # VA → (density, touch): fitted on the training pieces (controls.fit_control_map) and
            # saved with the weights; PyTorch evaluation plays it, the export copies it to the sidecar
            self.register_buffer("control_map", torch.zeros(3, c.controls))
        self.drop = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.n_dec_layers)])
        self.ln = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # tied output embedding

    def condition(self, va):
        """va (B, 2) — or (B, 2 + controls) in training, with the window's own controls — → (B, d)."""
        if self.c.controls and va.shape[-1] == 2:
            ctl = (self.control_map[0] + va @ self.control_map[1:]).clamp(-CLIP, CLIP)
            va = torch.cat([va, ctl], dim=-1)
        return self.va(va)

    def memory_with_va(self, memory, va):
        v = self.condition(va)  # (B, d)
        return torch.cat([v[:, None, :], memory], dim=1), v

    def forward(self, tokens, memory, va):
        """tokens (B, T) → logits (B, T, V)."""
        B, T = tokens.shape
        assert T <= self.c.block_size, f"Cannot forward sequence of length {T}, block size is only {self.c.block_size}"
        mem, v = self.memory_with_va(memory, va)
        x = self.tok(tokens) + self.pos(torch.arange(T, device=tokens.device)) + v[:, None, :]
        x = self.drop(x)
        for layer in self.layers:
            x = layer(x, mem)
        return self.head(self.ln(x))

    def prepare(self, memory, va):
        """What stays fixed while one piece is generated: the VA embedding and every layer's
        cross-attention keys/values over [VA token, image memory] — computed once, not per token.
        → va_emb (B, d), cross_k/v (L, B, nh, M+1, hs)."""
        mem, v = self.memory_with_va(memory, va)
        kv = [layer.cross_attn.project_kv(mem) for layer in self.layers]
        return v, torch.stack([k for k, _ in kv]), torch.stack([vv for _, vv in kv])

    def step(self, token, pos, va_emb, cross_k, cross_v, past_k, past_v):
        """KV-cached step: token (B, 1), pos (1,) int64, past_k/v (L, B, nh, T, hs) →
        logits (B, V), new_k, new_v (L, B, nh, T+1, hs)."""
        x = self.tok(token) + self.pos(pos)[None] + va_emb[:, None, :]
        ks, vs = [], []
        for i, layer in enumerate(self.layers):
            x, k, vv = layer.step(x, cross_k[i], cross_v[i], past_k[i], past_v[i])
            ks.append(k)
            vs.append(vv)
        return self.head(self.ln(x))[:, -1], torch.stack(ks), torch.stack(vs)

    def empty_cache(self, batch: int = 1):
        c = self.c
        shape = (c.n_dec_layers, batch, c.n_heads, 0, c.d_model // c.n_heads)
        return torch.zeros(shape), torch.zeros(shape)


class LSTMDecoder(nn.Module):
    """The paper's baseline: a 2-layer LSTM on the same tokens, started from image memory + VA."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.c = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.va = nn.Sequential(nn.Linear(2, c.d_model), nn.GELU(), nn.Linear(c.d_model, c.d_model))
        self.init = nn.Linear(2 * c.d_model, 4 * c.d_model)
        self.lstm = nn.LSTM(c.d_model, c.d_model, num_layers=2, batch_first=True, dropout=c.dropout)
        self.ln = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight

    def _state(self, memory, va):
        v = self.va(va)
        h0 = torch.tanh(self.init(torch.cat([memory.mean(1), v], dim=-1)))  # (B, 4d)
        h, c = h0.view(-1, 2, 2, self.c.d_model).permute(1, 2, 0, 3).unbind(0)
        return (h.contiguous(), c.contiguous()), v

    def forward(self, tokens, memory, va):
        state, v = self._state(memory, va)
        y, _ = self.lstm(self.tok(tokens) + v[:, None, :], state)
        return self.head(self.ln(y))

    def step(self, token, state, memory, va):
        if state is None:
            state, _ = self._state(memory, va)
        v = self.va(va)
        y, state = self.lstm(self.tok(token) + v[:, None, :], state)
        return self.head(self.ln(y))[:, -1], state


class Synesthete(nn.Module):
    """Image features → (memory, image VA); (tokens, memory, VA) → logits."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.config = c
        self.encoder = ImageEncoder(c)
        self.decoder = LSTMDecoder(c) if c.decoder == "lstm" else MusicDecoder(c)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, fmap, tokens, va_cond):
        memory, image_va = self.encoder(fmap)
        return self.decoder(tokens, memory, va_cond), image_va

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def losses(model: Synesthete, fmap, tokens, va_cond, va_ref, image_va_label, estimator=None, va_loss_weight: float = 0.0):
    """Token cross-entropy, image-VA L1, and the paper's VA loss (see module docstring).

    tokens (B, T) include BOS; PAD marks the end of shorter pieces. ``image_va_label`` None
    (pretraining on music without pictures) leaves the image head out.
    """
    logits, image_va = model(fmap, tokens[:, :-1], va_cond)
    target = tokens[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=PAD)
    out = {"ce": ce}
    total = ce
    if image_va_label is not None:  # None when pretraining on unlabelled music
        out["image_va"] = F.l1_loss(image_va, image_va_label)
        total = total + out["image_va"]
    if estimator is not None and va_loss_weight > 0:
        probs = F.softmax(logits, dim=-1)
        mask = (target != PAD).float()
        va_music = estimator(probs, mask)
        va_l = F.l1_loss(va_music, va_ref)
        out["va"] = va_l
        total = total + va_loss_weight * va_l
    out["total"] = total
    return out


def perplexity(ce: float) -> float:
    return math.exp(min(ce, 50.0))
