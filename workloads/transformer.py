"""Transformer models lowered to primitive ops: BERT-base, GPT-2 small and a Llama-style decoder.

Attention lowers to projections (matmuls with weights), a score matmul, a scale, a softmax
and a context matmul, with the head split/merge as zero-cost reshapes. Grouped-query
attention folds the query group into the score matmul's M dimension, as fused kernels do.
Decode mode processes ``seq_len`` new tokens (usually 1) against a KV cache of ``kv_len``
tokens that enters the graph as an input per layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.graph import Graph
from workloads.builder import GraphBuilder, Tensor

_MODES = ("prefill", "decode")


@dataclass(frozen=True, kw_only=True)
class DecoderShape:
    """Dimensions of one transformer stack (validated on construction)."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    batch: int
    seq_len: int
    kv_len: int = 0

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "batch", "seq_len"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not isinstance(self.kv_len, int) or self.kv_len < 0:
            raise ValueError(f"kv_len must be an integer >= 0, got {self.kv_len!r}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden={self.hidden} must be a multiple of heads={self.heads}")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads={self.heads} must be a multiple of kv_heads={self.kv_heads}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads


def _split_heads(b: GraphBuilder, x: Tensor, heads: int, d: int, name: str) -> Tensor:
    """(B, S, heads*d) -> (B, heads, S, d)."""
    bs, s, _ = x.shape
    x = b.reshape(x, (bs, s, heads, d), name=f"{name}.split")
    return b.reshape(x, (bs, heads, s, d), name=f"{name}.transpose", func="transpose")


def attention(b: GraphBuilder, x: Tensor, cfg: DecoderShape, *, bias: bool,
              rope: bool = False) -> Tensor:
    """Multi-head (grouped-query when kv_heads < heads) self-attention block."""
    bs, s, _ = x.shape
    h, kvh, d = cfg.heads, cfg.kv_heads, cfg.head_dim
    q = _split_heads(b, b.linear(x, h * d, bias=bias, name="q_proj"), h, d, "q")
    k = _split_heads(b, b.linear(x, kvh * d, bias=bias, name="k_proj"), kvh, d, "k")
    v = _split_heads(b, b.linear(x, kvh * d, bias=bias, name="v_proj"), kvh, d, "v")
    if rope:
        q, k = b.elementwise("rope", q, name="q_rope"), b.elementwise("rope", k, name="k_rope")
    if cfg.kv_len:
        k = b.concat([b.input((bs, kvh, cfg.kv_len, d), name="k_cache"), k], axis=2,
                     name="k_concat")
        v = b.concat([b.input((bs, kvh, cfg.kv_len, d), name="v_cache"), v], axis=2,
                     name="v_concat")
    t = k.shape[2]
    group = h // kvh
    q = b.reshape(q, (bs, kvh, group * s, d), name="q_group")
    kt = b.reshape(k, (bs, kvh, d, t), name="k_t", func="transpose")
    scores = b.elementwise("scale", b.matmul(q, kt, name="qk"), name="qk_scale")
    ctx = b.matmul(b.softmax(scores, name="softmax"), v, name="av")
    ctx = b.reshape(ctx, (bs, s, h * d), name="merge", func="transpose")
    return b.linear(ctx, cfg.hidden, bias=bias, name="o_proj")


def _check_mode(mode: str, seq_len: int, kv_len: int) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if mode == "prefill" and kv_len:
        raise ValueError(f"kv_len must be 0 in prefill mode, got {kv_len}")


def bert_base(*, batch: int = 1, seq_len: int = 128) -> Graph:
    """BERT-base encoder (Devlin et al. 2019): 12 layers, hidden 768, 12 heads.

    Embeddings (word, position, token type) plus the encoder: 108.9 M parameters. The
    pooler (one 768x768 layer on the first token, 0.6 M) is not part of the graph.
    """
    cfg = DecoderShape(layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072, vocab=30522,
                       batch=batch, seq_len=seq_len)
    if seq_len > 512:
        raise ValueError(f"seq_len must be <= 512 for BERT-base, got {seq_len}")
    b = GraphBuilder("bert_base")
    ids = b.input((batch, seq_len), name="input_ids")
    x = b.embedding(ids, cfg.vocab, cfg.hidden, name="word_embeddings")
    pos = b.embedding(b.input((batch, seq_len), name="position_ids"), 512, cfg.hidden,
                      name="position_embeddings")
    tok = b.embedding(b.input((batch, seq_len), name="token_type_ids"), 2, cfg.hidden,
                      name="token_type_embeddings")
    x = b.norm(b.add(b.add(x, pos, name="add_pos"), tok, name="add_tok"), name="emb_norm")
    for i in range(cfg.layers):
        with b.scope(f"layer{i}"):
            a = attention(b, x, cfg, bias=True)
            x = b.norm(b.add(a, x, name="attn_add"), name="attn_norm")
            f = b.elementwise("gelu", b.linear(x, cfg.ffn, name="ffn1"), name="gelu")
            x = b.norm(b.add(b.linear(f, cfg.hidden, name="ffn2"), x, name="ffn_add"),
                       name="ffn_norm")
    return b.build()


def gpt2(*, batch: int = 1, seq_len: int = 128, mode: str = "prefill", kv_len: int = 0) -> Graph:
    """GPT-2 small (Radford et al. 2019): 12 layers, hidden 768, 124.4 M params (tied head).

    ``mode='decode'`` runs ``seq_len`` new tokens against a KV cache of ``kv_len`` tokens.
    """
    _check_mode(mode, seq_len, kv_len)
    cfg = DecoderShape(layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072, vocab=50257,
                       batch=batch, seq_len=seq_len, kv_len=kv_len)
    if seq_len + kv_len > 1024:
        raise ValueError(f"seq_len + kv_len must be <= 1024 for GPT-2, got {seq_len + kv_len}")
    b = GraphBuilder(f"gpt2_{mode}")
    ids = b.input((batch, seq_len), name="input_ids")
    x = b.embedding(ids, cfg.vocab, cfg.hidden, name="wte")
    pos = b.embedding(b.input((batch, seq_len), name="position_ids"), 1024, cfg.hidden,
                      name="wpe")
    x = b.add(x, pos, name="add_pos")
    for i in range(cfg.layers):
        with b.scope(f"h{i}"):
            a = attention(b, b.norm(x, name="ln_1"), cfg, bias=True)
            x = b.add(a, x, name="attn_add")
            f = b.linear(b.norm(x, name="ln_2"), cfg.ffn, name="c_fc")
            f = b.linear(b.elementwise("gelu", f, name="gelu"), cfg.hidden, name="c_proj")
            x = b.add(f, x, name="mlp_add")
    x = b.norm(x, name="ln_f")
    b.linear(x, cfg.vocab, bias=False, name="lm_head", tied_to="wte")
    return b.build()


def llama(*, batch: int = 1, seq_len: int = 128, mode: str = "prefill", kv_len: int = 0,
          layers: int = 32, hidden: int = 4096, heads: int = 32, kv_heads: int = 32,
          ffn: int = 11008, vocab: int = 32000) -> Graph:
    """Llama-style decoder (RMSNorm, RoPE, SwiGLU, grouped-query attention, untied head).

    Defaults are Llama-2-7B (6.74 B parameters). ``mode='decode'`` runs ``seq_len`` new
    tokens (usually 1) against a KV cache of ``kv_len`` tokens.
    """
    _check_mode(mode, seq_len, kv_len)
    cfg = DecoderShape(layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ffn=ffn,
                       vocab=vocab, batch=batch, seq_len=seq_len, kv_len=kv_len)
    b = GraphBuilder(f"llama_{mode}")
    x = b.embedding(b.input((batch, seq_len), name="input_ids"), vocab, hidden,
                    name="embed_tokens")
    for i in range(cfg.layers):
        with b.scope(f"layers{i}"):
            a = attention(b, b.norm(x, "rmsnorm", name="input_norm"), cfg, bias=False,
                          rope=True)
            x = b.add(a, x, name="attn_add")
            h = b.norm(x, "rmsnorm", name="post_attn_norm")
            gate = b.elementwise("silu", b.linear(h, ffn, bias=False, name="gate_proj"),
                                 name="silu")
            up = b.linear(h, ffn, bias=False, name="up_proj")
            f = b.linear(b.elementwise("mul", gate, up, name="gate_mul"), hidden, bias=False,
                         name="down_proj")
            x = b.add(f, x, name="mlp_add")
    x = b.norm(x, "rmsnorm", name="norm")
    b.linear(x, vocab, bias=False, name="lm_head")
    return b.build()
