"""Zoo models against published MAC and parameter counts."""

import pytest

from hwsim.graph import OpKind
from workloads import zoo

# (model, GMACs, M params, tolerance): published figures (torchvision model cards,
# original papers; Llama-2-7B from its config: 6,738,415,616 parameters).
PUBLISHED = [
    ("resnet18", 1.82, 11.69, 0.02),
    ("resnet50", 4.09, 25.56, 0.02),
    ("mobilenet_v2", 0.300, 3.50, 0.02),
    ("vgg16", 15.5, 138.36, 0.02),
    ("alexnet", 0.714, 61.10, 0.02),
]


@pytest.mark.parametrize(("name", "gmacs", "mparams", "tol"), PUBLISHED)
def test_cnn_totals_match_published(name, gmacs, mparams, tol):
    """CNN MACs and parameters are within 2% of the published figures at 224x224."""
    g = zoo.MODELS[name]()
    assert g.macs / 1e9 == pytest.approx(gmacs, rel=tol)
    assert g.params / 1e6 == pytest.approx(mparams, rel=tol)


def test_bert_base_params():
    """BERT-base (embeddings + encoder, no pooler) has about 110 M parameters."""
    assert zoo.bert_base().params == 108_891_648
    assert zoo.bert_base().params / 1e6 == pytest.approx(110, rel=0.02)


def test_gpt2_params_exact_with_tied_head():
    """GPT-2 small has 124,439,808 parameters; the LM head reuses the embedding."""
    g = zoo.gpt2()
    assert g.params == 124_439_808
    assert g["lm_head"].weight_tied_to == "wte"


def test_llama_7b_params_exact():
    """The default Llama-style decoder is Llama-2-7B: 6,738,415,616 parameters."""
    assert zoo.llama(seq_len=8).params == 6_738_415_616


def test_llama_decode_reads_kv_cache():
    """Decode with a KV cache attends over cache + new token and adds the cache as inputs."""
    g = zoo.llama(layers=2, mode="decode", seq_len=1, kv_len=511, kv_heads=8)
    qk = g["layers0.qk"]
    assert qk.in_shapes[1][-1] == 512
    assert qk.in_shapes[0][-2] == 4  # 32 heads / 8 kv heads, one token each
    assert "layers0.k_cache" in g


def test_decode_macs_scale_with_cache_length():
    """Attention MACs in decode grow linearly with the cache length."""
    def attn_macs(kv):
        g = zoo.gpt2(mode="decode", seq_len=1, kv_len=kv)
        return sum(op.macs for op in g.ops if op.name.endswith((".qk", ".av")))
    assert attn_macs(511) == pytest.approx(2 * attn_macs(255), rel=0.01)


def test_bert_macs_scale_with_batch_and_seq():
    """Doubling the batch doubles every MAC; attention is quadratic in sequence length."""
    assert zoo.bert_base(batch=2).macs == 2 * zoo.bert_base().macs
    g1, g2 = zoo.bert_base(seq_len=64), zoo.bert_base(seq_len=128)
    qk = lambda g: g["layer0.qk"].macs  # noqa: E731
    assert qk(g2) == 4 * qk(g1)


def test_nothing_silently_dropped():
    """ResNet-50 has its ReLUs, residual adds, pools and batch norms as ops."""
    kinds = [op.kind for op in zoo.resnet50().ops]
    assert kinds.count(OpKind.NORM) == 53
    assert kinds.count(OpKind.POOL) == 2
    funcs = [op.func for op in zoo.resnet50().ops]
    assert funcs.count("add") == 16
    assert funcs.count("relu") == 49


def test_residual_add_is_a_real_edge():
    """A residual add consumes both the block output and the skip path."""
    g = zoo.resnet18()
    add = g["layer1.0.add"]
    assert set(add.inputs) == {"layer1.0.bn2", "maxpool"}


@pytest.mark.parametrize(
    ("builder", "kwargs", "match"),
    [
        (zoo.resnet50, {"batch": 0}, "batch must be an integer >= 1"),
        (zoo.gpt2, {"mode": "train"}, "mode must be one of"),
        (zoo.gpt2, {"kv_len": 5}, "kv_len must be 0 in prefill"),
        (zoo.llama, {"heads": 32, "kv_heads": 6}, "multiple of kv_heads"),
        (zoo.bert_base, {"seq_len": 1024}, "seq_len must be <= 512"),
    ],
)
def test_bad_parameters_raise(builder, kwargs, match):
    """Invalid model parameters raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)
