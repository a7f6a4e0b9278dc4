"""Tests of the op-graph IR: validation, derived quantities, toposort."""

import pytest

from hwsim.graph import Graph, NumberFormat, Op, OpKind, Precision, Sparsity, toposort


def _inp(name="x", shape=(1, 3, 8, 8)):
    return Op(name=name, kind=OpKind.INPUT, out_shape=shape)


def _conv(name="c", src="x", in_shape=(1, 3, 8, 8), out_ch=4, k=3, stride=1, pad=1, groups=1):
    n, c, h, w = in_shape
    p = (h + 2 * pad - k) // stride + 1
    q = (w + 2 * pad - k) // stride + 1
    return Op(name=name, kind=OpKind.CONV2D, inputs=(src,), in_shapes=(in_shape,),
              out_shape=(n, out_ch, p, q), weight_shape=(out_ch, c // groups, k, k),
              kernel=(k, k), stride=(stride, stride), padding=(pad, pad), groups=groups)


def test_conv_macs_and_params():
    """A conv's MACs are N*K*P*Q*C/g*R*S and its params the weight count."""
    op = _conv()
    assert op.macs == 1 * 4 * 8 * 8 * 3 * 3 * 3
    assert op.params == 4 * 3 * 3 * 3
    assert op.flops == 2 * op.macs


def test_depthwise_is_grouped_conv():
    """Depthwise conv (groups == channels) has C*P*Q*R*S MACs."""
    op = _conv(in_shape=(1, 8, 8, 8), out_ch=8, groups=8)
    assert op.macs == 8 * 8 * 8 * 9
    assert op.gemm == (8, 64, 9, 1)


def test_matmul_with_weights_folds_leading_dims():
    """A linear layer folds batch and sequence into M."""
    op = Op(name="fc", kind="matmul", inputs=("x",), in_shapes=((2, 5, 16),),
            out_shape=(2, 5, 32), weight_shape=(16, 32), bias=True)
    assert op.gemm == (1, 10, 16, 32)
    assert op.params == 16 * 32 + 32


def test_bytes_follow_precision():
    """Weight and activation bytes scale with their bit widths."""
    op = _conv()
    q = op.replace(precision=Precision.integer(weight_bits=4, act_bits=8))
    assert q.weight_bytes == op.weight_bytes / 8
    assert q.output_bytes == op.output_bytes / 4
    assert q.intensity > op.intensity


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"out_shape": (1, 4, 9, 8)}, "out_shape"),
        ({"weight_shape": (4, 2, 3, 3)}, "weight_shape[1]"),
        ({"kernel": (0, 3)}, "kernel"),
        ({"groups": 0}, "groups"),
        ({"padding": (-1, 1)}, "padding"),
    ],
)
def test_invalid_op_names_op_and_field(changes, field):
    """Malformed ops raise ValueError naming the op and the field."""
    with pytest.raises(ValueError, match=r"op 'c'.*" + field.replace("[", r"\[")):
        _conv().replace(**changes)


def test_non_positive_dims_rejected():
    """Zero or negative dims are rejected with the field named."""
    with pytest.raises(ValueError, match="out_shape must have positive"):
        _inp(shape=(1, 0, 8, 8))


@pytest.mark.parametrize("bits", [0, 33, 2.5])
def test_bits_outside_range_rejected(bits):
    """Bit widths outside 1..32 are rejected."""
    with pytest.raises(ValueError, match="weight_bits must be an integer in 1..32"):
        Precision(weight_bits=bits)


@pytest.mark.parametrize("density", [0.0, 1.5, -0.1])
def test_density_outside_range_rejected(density):
    """Densities outside (0, 1] are rejected."""
    with pytest.raises(ValueError, match=r"weight_density must be in \(0, 1\]"):
        Sparsity(weight_density=density)


def test_float_format_fixes_bits():
    """A float format implies its bit width; a mismatch is an error."""
    assert Precision.of("bf16").weight_bits == 16
    assert Precision.of("w4a8").label == "w4a8"
    with pytest.raises(ValueError, match="weight_bits must be 16"):
        Precision(weight_bits=8, weight_fmt=NumberFormat.FP16)
    with pytest.raises(ValueError, match="precision must be one of"):
        Precision.of("int")


def test_n_m_sparsity_density():
    """N:M sparsity has density N/M and needs N < M."""
    assert Sparsity.n_m(2, 4).weight_density == 0.5
    with pytest.raises(ValueError, match="n:m sparsity"):
        Sparsity(pattern="n:m", n=4, m=4)


def _branchy():
    a = _inp()
    b1 = _conv("b1", "x")
    b2 = _conv("b2", "x")
    add = Op(name="add", kind="elementwise", func="add", inputs=("b1", "b2"),
             in_shapes=((1, 4, 8, 8),) * 2, out_shape=(1, 4, 8, 8))
    return [add, b2, a, b1]


def test_toposort_orders_branches():
    """Toposort puts producers before consumers on a branching graph."""
    ordered = [op.name for op in toposort(_branchy())]
    assert ordered.index("x") < ordered.index("b1") < ordered.index("add")
    assert ordered.index("b2") < ordered.index("add")
    assert Graph(tuple(_branchy())).edges.count(("x", "b1")) == 1


def test_cycle_rejected():
    """A cycle is reported with the ops involved."""
    a = Op(name="a", kind="elementwise", func="relu", inputs=("b",), in_shapes=((4,),),
           out_shape=(4,))
    b = Op(name="b", kind="elementwise", func="relu", inputs=("a",), in_shapes=((4,),),
           out_shape=(4,))
    with pytest.raises(ValueError, match="cycle"):
        Graph((a, b))


def test_dangling_input_rejected():
    """An input naming no op is an error naming both."""
    with pytest.raises(ValueError, match="op 'c': input 'nope' names no op"):
        Graph((_inp(), _conv(src="nope")))


def test_shape_mismatch_between_ops_rejected():
    """A consumer whose in_shape differs from its producer's out_shape is rejected."""
    with pytest.raises(ValueError, match=r"op 'c': in_shapes\[0\]"):
        Graph((_inp(shape=(1, 3, 9, 9)), _conv()))


def test_duplicate_names_rejected():
    """Two ops with one name are rejected."""
    with pytest.raises(ValueError, match="appears twice"):
        Graph((_inp(), _inp()))


def test_summary_and_totals_agree():
    """The summary table's columns sum to the graph totals."""
    g = Graph(tuple(_branchy()))
    s = g.summary()
    assert list(s["op"]) == [op.name for op in g.ops]
    assert s["macs"].sum() == g.macs
    assert s["params"].sum() == g.params
    assert g.totals()["ops"] == 4


def _vec(name="v", kind="elementwise", n_inputs=1, shape=(2, 4), **fields):
    return Op(name=name, kind=kind, inputs=tuple(f"i{k}" for k in range(n_inputs)),
              in_shapes=(shape,) * n_inputs, out_shape=shape, **fields)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: _vec(n_inputs=0), "number of inputs must be >= 1 for elementwise"),
        (lambda: _vec(kind="softmax", n_inputs=2), "number of inputs must be 1 for softmax"),
        (lambda: _vec(kind="norm", n_inputs=0), "number of inputs must be 1 for norm"),
        (lambda: _vec(kind="concat", n_inputs=0), "number of inputs must be >= 1 for concat"),
        (lambda: Op(name="v", kind="embedding", out_shape=(2, 4), weight_shape=(10, 4)),
         "number of inputs must be 1 for embedding"),
        (lambda: _vec(kind="input"), "number of inputs must be 0 for input"),
        (lambda: _vec(weight_shape=(4, 4)), "weight_shape must be \\(\\) for elementwise"),
        (lambda: _vec(kind="softmax", bias=True), "bias must be False for softmax"),
        (lambda: _vec(kind="norm", weight_shape=(4,)), "weight_shape must have 2 dims"),
        (lambda: _vec(weight_tied_to="w"), "weight_tied_to must be ''"),
        (lambda: _vec(kind="concat", func="x"), "func must name a concat axis in -2..1"),
        (lambda: _vec(kind="concat", func="2"), "func must name a concat axis"),
        (lambda: _vec(precision="int8"), "precision must be a Precision"),
        (lambda: _vec(sparsity=0.5), "sparsity must be a Sparsity"),
        (lambda: _vec(shape=(2, True)), "must have positive integer dims"),
        (lambda: _vec(kind="bogus"), "kind must be one of input, conv2d"),
        (lambda: _conv().replace(groups=1.0), "groups must be an integer >= 1, got 1.0"),
        (lambda: _conv().replace(stride=(1,)), "stride must be two integers >= 1"),
        (lambda: _conv().replace(padding=(1, 1, 1)), "padding must be two integers >= 0"),
        (lambda: Op(name="v", kind="pool", inputs=("x",), in_shapes=((1, 3, 8, 8),),
                    out_shape=(1, 3, 4, 4), kernel=(2, 2), stride=(2, 2), func="median"),
         "func must be one of max, avg for pool"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_ops_name_op_and_field(build, match):
    """Wrong input counts, stray weights or bias, bad geometry and types are clear errors."""
    with pytest.raises(ValueError, match=r"op '[vc]'.*" + match):
        build()


def test_numpy_integers_and_lists_are_normalised():
    """NumPy integer dims and list geometry become plain int tuples (hashable, comparable)."""
    import numpy as np

    op = _conv(in_shape=(1, 3, np.int64(8), 8)).replace(stride=[1, 1], groups=np.int32(1))
    assert op.in_shapes == ((1, 3, 8, 8),)
    assert type(op.in_shapes[0][2]) is int
    assert op.stride == (1, 1)
    assert type(op.groups) is int
    assert hash(op) == hash(_conv())


def test_concat_accepts_a_negative_axis():
    """A concat along axis -1 is the concat along the last axis."""
    op = Op(name="cat", kind="concat", inputs=("a", "b"), in_shapes=((1, 2, 3), (1, 2, 4)),
            out_shape=(1, 2, 7), func="-1")
    assert op.out_elements == 14


def _embedding(tokens, vocab=30522, dim=768, precision=None):
    return Op(name="emb", kind="embedding", inputs=("ids",), in_shapes=((1, tokens),),
              out_shape=(1, tokens, dim), weight_shape=(vocab, dim),
              precision=precision or Precision())


def test_embedding_reads_only_gathered_rows():
    """A lookup reads one row per id (at most the table), not the whole table it stores."""
    op = _embedding(128)
    assert op.weight_bytes == 30522 * 768 * 4
    assert op.weight_read_bytes == 128 * 768 * 4
    assert _embedding(128, vocab=2).weight_read_bytes == 2 * 768 * 4
    int8 = _embedding(128, precision=Precision.of("int8"))
    assert int8.weight_read_bytes == 128 * 768
    assert _conv().weight_read_bytes == _conv().weight_bytes


def _tied_pair(bias=False):
    ids = Op(name="ids", kind="input", out_shape=(1, 4))
    emb = Op(name="emb", kind="embedding", inputs=("ids",), in_shapes=((1, 4),),
             out_shape=(1, 4, 8), weight_shape=(100, 8))
    head = Op(name="head", kind="matmul", inputs=("emb",), in_shapes=((1, 4, 8),),
              out_shape=(1, 4, 100), weight_shape=(8, 100), bias=bias, weight_tied_to="emb")
    return ids, emb, head


def test_tied_weights_counted_once_but_own_bias_counted():
    """A tied head adds no weights of its own, but its bias is its own parameter."""
    g = Graph(_tied_pair())
    assert g.params == 800
    assert g.weight_bytes == 800 * 4
    gb = Graph(_tied_pair(bias=True))
    assert gb.params == 900
    assert gb.weight_bytes == 900 * 4
    assert gb["head"].weight_bytes == 900 * 4  # it still reads the whole tied tensor


def test_weight_tie_must_name_a_matching_op():
    """A tie to a missing op or to a tensor of another size is rejected."""
    ids, emb, head = _tied_pair()
    with pytest.raises(ValueError, match="op 'head': weight_tied_to 'emb' must name an op"):
        Graph((ids, head.replace(inputs=("ids2",)),
               Op(name="ids2", kind="input", out_shape=(1, 4, 8))))
    small = emb.replace(weight_shape=(50, 8))
    with pytest.raises(ValueError, match="holds a different number of weights"):
        Graph((ids, small, head))
