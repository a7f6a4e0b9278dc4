"""CompressionPlan: validation, YAML, and its effects on the op graph."""

import numpy as np
import pytest

from hwsim.graph import NumberFormat, OpKind, SparsityPattern
from workloads import zoo
from workloads.compression.graph_ops import drop_units, prune_channels, removable_units
from workloads.compression.plan import CompressionPlan, compare_graphs


def test_bits_change_bytes():
    """Int8 weights and activations make weight and activation bytes 4x smaller than fp32."""
    g = zoo.resnet18()
    c = CompressionPlan.from_dict({"defaults": {"weight_bits": 8, "act_bits": 8}}).apply(g)
    assert c.weight_bytes == pytest.approx(g.weight_bytes / 4)
    assert all(op.precision.weight_fmt is NumberFormat.INT for op in c.ops)
    assert c.macs == g.macs


def test_rules_override_in_order():
    """Later rules override earlier ones and defaults; globs match by name."""
    plan = CompressionPlan.from_yaml(
        "defaults: {weight_bits: 8, act_bits: 8}\n"
        "layers:\n"
        "  - {match: 'layer*', weight_bits: 4}\n"
        "  - {match: 'layer4.*', weight_bits: 2}\n"
        "  - {match: conv1, format: bf16}\n"
    )
    c = plan.apply(zoo.resnet18())
    assert c["layer1.0.conv1"].precision.weight_bits == 4
    assert c["layer4.1.conv2"].precision.weight_bits == 2
    assert c["conv1"].precision.weight_fmt is NumberFormat.BF16
    assert c["fc"].precision.weight_bits == 8


def test_sparsity_and_n_m_pattern_on_weight_ops_only():
    """Sparsity settings land on conv/matmul ops with weights; N:M gives density N/M."""
    plan = CompressionPlan.from_dict({"layers": [{"match": "*", "weight_sparsity": 0.5,
                                                  "pattern": "2:4"}]})
    c = plan.apply(zoo.resnet18())
    conv = c["layer1.0.conv1"]
    assert conv.sparsity.pattern is SparsityPattern.NM
    assert conv.sparsity.weight_density == 0.5
    assert c["layer1.0.relu1"].sparsity.is_dense


def test_channel_pruning_changes_macs_by_expected_amount():
    """Halving a conv's outputs halves it and the next conv's MACs."""
    g = zoo.resnet50()
    c = CompressionPlan.from_dict(
        {"channel_prune": [{"match": "layer1.0.conv1", "keep": 0.5}]}).apply(g)
    saved = (g["layer1.0.conv1"].macs + g["layer1.0.conv2"].macs) / 2
    assert g.macs - c.macs == saved
    assert c["layer1.0.conv2"].weight_shape == (64, 32, 3, 3)
    assert c["layer1.0.bn1"].weight_shape == (2, 32)


def test_channel_pruning_through_depthwise():
    """Pruning an expansion conv shrinks the depthwise conv's groups and the projection."""
    g = zoo.mobilenet_v2()
    c = prune_channels(g, {"features.2.expand.conv": 48})
    assert c["features.2.dw.conv"].groups == 48
    assert c["features.2.project.conv"].weight_shape[1] == 48


def test_channel_pruning_into_residual_add_rejected():
    """Pruning a conv whose output meets an unpruned residual path is a clear error."""
    with pytest.raises(ValueError, match="channel_prune: pruned channels meet unpruned"):
        prune_channels(zoo.resnet50(), {"layer1.0.conv3": 128})


def test_dropped_layers_vanish_and_graph_stays_valid():
    """Dropping removable units removes their ops and rewires consumers."""
    g = zoo.resnet50()
    units = removable_units(g)
    assert "layer3.5" in units
    assert "layer1.0" not in units  # has a downsample: dropping it breaks shapes
    c = CompressionPlan.from_dict({"drop": ["layer3.5", "layer4.2"]}).apply(g)
    assert not any(op.name.startswith(("layer3.5.", "layer4.2.")) for op in c.ops)
    assert c["avgpool"].inputs == ("layer4.1.relu",)


def test_transformer_layers_are_removable():
    """Every encoder layer of BERT and every decoder layer of Llama is removable."""
    assert len(removable_units(zoo.bert_base())) == 12
    g = zoo.llama(layers=3, mode="decode", seq_len=1, kv_len=8)
    assert removable_units(g) == ("layers0", "layers1", "layers2")
    assert drop_units(g, ["layers1"]).params < g.params


def test_measured_density_from_masks():
    """With real masks the graph carries the measured density, not the nominal one."""
    g = zoo.mlp()
    w = g["fc1"].weight_shape
    mask = np.zeros(w, dtype=bool)
    mask.flat[: mask.size // 10] = True
    c = CompressionPlan.from_dict({"layers": [{"match": "fc1", "weight_sparsity": 0.5}]}).apply(
        g, masks={"fc1": mask})
    assert c["fc1"].sparsity.weight_density == pytest.approx(0.1, rel=1e-3)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"defaults": {"weight_bits": 0}}, "defaults: weight_bits must be an integer in 1..32"),
        ({"defaults": {"weight_bits": 40}}, "weight_bits must be an integer in 1..32"),
        ({"layers": [{"match": "fc1", "weight_sparsity": 1.0}]},
         r"layers\[0\]: weight_sparsity must be in \[0, 1\)"),
        ({"layers": [{"match": "nope"}]}, "layers: 'nope' matches no op"),
        ({"layers": [{"weight_bits": 4}]}, "needs a 'match' key"),
        ({"defaults": {"format": "int3"}}, "format must be one of"),
        ({"defaults": {"pattern": "4:2"}}, "pattern must be one of"),
        ({"drop": ["fc1"]}, "drop: 'fc1' is not a removable unit"),
        ({"channel_prune": [{"match": "fc1", "keep": 0}]}, "keep must be in"),
        ({"defaults": {"bits": 4}}, "defaults: unknown key 'bits'"),
        ({"quantize": {}}, "plan: unknown key 'quantize'"),
    ],
)
def test_plan_validation_errors(data, match):
    """Bad plans raise ValueError naming the field and the allowed values."""
    with pytest.raises(ValueError, match=match):
        CompressionPlan.from_dict(data).apply(zoo.mlp())


def test_compare_graphs_reports_ratios():
    """compare_graphs shows before/after totals with ratios."""
    g = zoo.mlp()
    c = CompressionPlan.from_dict({"defaults": {"weight_bits": 4, "act_bits": 8,
                                                "weight_sparsity": 0.5}}).apply(g)
    t = compare_graphs(g, c).set_index("quantity")
    assert t.loc["weight_bytes", "ratio"] == pytest.approx(4 / 32)
    assert t.loc["stored_weight_bytes", "ratio"] == pytest.approx(4 / 32 * 0.5, rel=0.01)
    assert t.loc["mac_weighted_density", "after"] == pytest.approx(0.5)
    assert OpKind.MATMUL in {op.kind for op in c.ops}


def test_drop_least_important_units():
    """Ranking by importance drops the lowest-scored residual units and keeps the graph valid."""
    from workloads.compression.graph_ops import drop_least_important, rank_units

    g = zoo.resnet50()
    scores = {u: float(i) for i, u in enumerate(reversed(removable_units(g)))}
    assert rank_units(g, scores)[:2] == ("layer4.2", "layer4.1")
    c = drop_least_important(g, scores, 2)
    assert "layer4.2.conv1" not in c
    assert "layer4.1.conv1" not in c
    assert "layer3.5.conv1" in c
    with pytest.raises(ValueError, match="no score for removable unit"):
        rank_units(g, {"layer1.1": 0.0})
    with pytest.raises(ValueError, match="n must be an integer in 0..12"):
        drop_least_important(g, scores, 13)
