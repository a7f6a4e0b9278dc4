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


def test_gpt2_prefill_macs_by_hand():
    """GPT-2 prefill: T x (weight matmuls incl. the tied head) + 12 x 2 x T^2 x 768 attention."""
    t, d = 64, 768
    g = zoo.gpt2(batch=2, seq_len=t)
    per_token = 12 * (4 * d * d + 2 * d * 3072) + d * 50257
    assert g.macs == 2 * (t * per_token + 12 * 2 * t * t * d)
    assert 2 * g.macs < g.flops < 2.01 * 2 * g.macs


@pytest.mark.parametrize("kv_heads", [32, 8])
def test_llama_decode_macs_and_kv_cache_bytes_by_hand(kv_heads):
    """Decode at cache length L: MACs per token = matmul weights + 2 x layers x hidden x (L+1);
    the fp16 KV cache inputs hold 2 x layers x kv_heads x L x head_dim values per sequence."""
    from hwsim.graph import Precision

    layers, hidden, length, batch = 4, 4096, 1000, 2
    g = zoo.llama(layers=layers, kv_heads=kv_heads, mode="decode", seq_len=1, kv_len=length,
                  batch=batch)
    kv = kv_heads * 128
    matmul_weights = layers * (2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * 11008)
    matmul_weights += hidden * 32000
    assert g.macs == batch * (matmul_weights + 2 * layers * hidden * (length + 1))
    assert g["layers0.k_proj"].weight_shape == (hidden, kv_heads * 128)
    fp16 = g.map_ops(lambda op: op.replace(precision=Precision.of("fp16")))
    cache = sum(op.output_bytes for op in fp16.ops if op.name.endswith("_cache"))
    assert cache == 2 * layers * batch * kv_heads * length * 128 * 2


def test_weight_bytes_follow_precision_and_count_tied_weights_once():
    """GPT-2's weight bytes are its parameters at the weight width, the tied head counted once."""
    from hwsim.graph import Precision

    g = zoo.gpt2(seq_len=8)
    assert g.weight_bytes == 4 * g.params
    int8 = g.map_ops(lambda op: op.replace(precision=Precision.of("int8")))
    assert int8.weight_bytes == g.params


def test_bert_embeddings_read_only_looked_up_rows():
    """BERT's lookups read one row per token, and no more rows than a table holds."""
    g = zoo.bert_base(batch=2, seq_len=128)
    assert g["word_embeddings"].weight_bytes == 30522 * 768 * 4
    assert g["word_embeddings"].weight_read_bytes == 256 * 768 * 4
    assert g["position_embeddings"].weight_read_bytes == 256 * 768 * 4
    assert g["token_type_embeddings"].weight_read_bytes == 2 * 768 * 4


@pytest.mark.parametrize("name", ["vgg16", "alexnet"])
def test_classifier_parameters_do_not_depend_on_image_size(name):
    """An adaptive average pool keeps VGG-16 and AlexNet's parameters at larger images."""
    small, large = zoo.MODELS[name](), zoo.MODELS[name](image_size=320)
    assert large.params == small.params
    assert large.macs > small.macs
    with pytest.raises(ValueError, match="last feature map, smaller than"):
        zoo.MODELS[name](image_size=160)


@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_batch_multiplies_work_not_parameters(name):
    """At batch 3 every model does 3x the MACs and FLOPs with the same parameters."""
    kwargs = {"seq_len": 8} if name in ("bert_base", "gpt2", "llama") else {}
    if name == "llama":
        kwargs["layers"] = 2
    one, three = zoo.MODELS[name](**kwargs), zoo.MODELS[name](batch=3, **kwargs)
    assert three.macs == 3 * one.macs
    assert three.flops == 3 * one.flops
    assert three.params == one.params


def test_mobilenet_v2_depthwise_convs_have_one_group_per_channel():
    """Every 3x3 conv in the inverted residuals is depthwise: groups = in = out channels."""
    g = zoo.mobilenet_v2()
    dw = [op for op in g.ops if op.name.endswith("dw.conv")]
    assert len(dw) == 17
    assert all(op.groups == op.in_shapes[0][1] == op.out_shape[1] for op in dw)
    assert all(op.weight_shape[1:] == (1, 3, 3) for op in dw)
