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
