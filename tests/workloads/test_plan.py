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
        ({"layers": [{"match": "nope"}]}, r"layers\[0\]: 'nope' matches no op"),
        ({"layers": [{"weight_bits": 4}]}, "needs a 'match' key"),
        ({"defaults": {"format": "int3"}}, "format must be one of"),
        ({"defaults": {"pattern": "4:2"}}, "pattern must be one of"),
        ({"drop": ["fc1"]}, "drop: 'fc1' is not a removable unit"),
        ({"channel_prune": [{"match": "fc1", "keep": 0}]}, "keep must be in"),
        ({"defaults": {"bits": 4}}, "defaults: unknown key 'bits'"),
        ({"quantize": {}}, "plan: unknown key 'quantize'"),
        ({"layers": [1]}, r"layers\[0\] must be a mapping, got int"),
        ({"layers": {"match": "fc1"}}, "layers must be a list of rules"),
        ({"layers": [{"match": "fc1", "bits": 4}]}, r"layers\[0\]: unknown key 'bits'"),
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


def _precision(plan, op="fc1", model=zoo.mlp):
    return CompressionPlan.from_dict(plan).apply(model())[op].precision


def test_later_format_or_width_wins():
    """A float format set later brings its width; a width set later must fit the format."""
    assert _precision({"defaults": {"weight_bits": 8, "act_bits": 8},
                       "layers": [{"match": "fc1", "format": "fp8_e4m3"}]}).label == "fp8_e4m3"
    int4 = _precision({"defaults": {"format": "fp16"},
                       "layers": [{"match": "fc1", "format": "int", "weight_bits": 4}]})
    assert (int4.weight_fmt, int4.weight_bits, int4.act_bits) == (NumberFormat.INT, 4, 16)
    assert _precision({"defaults": {"format": "int", "weight_bits": 8}}).label == "w8a32"
    assert _precision({"defaults": {"format": "bf16"}}, op="fc2").label == "bf16"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"defaults": {"format": "fp16", "weight_bits": 8}},
         "defaults: weight_bits=8 does not fit the format fp16 \\(16 bits\\); set format: int"),
        ({"defaults": {"format": "fp16"}, "layers": [{"match": "fc1", "act_bits": 8}]},
         r"layers\[0\] \('fc1'\) on op 'fc1': act_bits=8 does not fit the inherited format fp16"),
        ({"defaults": {"format": "int"}}, "format int needs weight_bits and/or act_bits"),
        ({"defaults": {"pattern": "2:4", "weight_sparsity": 0.7}},
         "weight_sparsity=0.7 does not fit the pattern 2:4"),
        ({"defaults": {"pattern": "dense", "weight_sparsity": 0.5}},
         "weight_sparsity=0.5 contradicts pattern dense"),
        ({"defaults": {"pattern": "1:4"}, "layers": [{"match": "fc2", "weight_sparsity": 0.5}]},
         "weight_sparsity=0.5 does not fit the inherited pattern 1:4"),
        ({"channel_prune": [{"match": "fc1", "keep": 0.5}]},
         r"channel_prune\[0\]: 'fc1' matches no conv2d op of mlp"),
    ],
)
def test_contradictory_settings_rejected(data, match):
    """Widths that do not fit a float format, int without widths and sparsity that
    contradicts its pattern are errors, as is channel pruning of a layer that is no conv."""
    with pytest.raises(ValueError, match=match):
        CompressionPlan.from_dict(data).validate(zoo.mlp())


def test_pattern_set_later_brings_its_sparsity():
    """An N:M pattern over an inherited sparsity gives N/M; a sparsity alone is unstructured."""
    c = CompressionPlan.from_dict({"defaults": {"weight_sparsity": 0.9},
                                   "layers": [{"match": "fc2", "pattern": "2:4"}]}).apply(zoo.mlp())
    assert c["fc1"].sparsity.pattern is SparsityPattern.UNSTRUCTURED
    assert c["fc1"].sparsity.weight_density == pytest.approx(0.1)
    assert c["fc2"].sparsity.pattern is SparsityPattern.NM
    assert c["fc2"].sparsity.weight_density == 0.5


@pytest.mark.parametrize(
    ("masks", "match"),
    [
        ({"relu1": np.ones(4, bool)}, "masks\\['relu1'\\]: op 'relu1' is a elementwise without"),
        ({"fc1": np.ones(7, bool)}, "masks\\['fc1'\\] has 7 entries but op 'fc1' has 401408"),
    ],
)
def test_masks_must_fit_a_weight_tensor(masks, match):
    """A mask for an op without weights, or of the wrong size, is an error."""
    with pytest.raises(ValueError, match=match):
        CompressionPlan().apply(zoo.mlp(), masks=masks)


def test_mask_without_pattern_is_unstructured():
    """A measured mask with zeros on a layer the plan leaves dense gives unstructured sparsity."""
    g = zoo.mlp()
    mask = np.arange(np.prod(g["fc1"].weight_shape)) % 4 == 0
    op = CompressionPlan().apply(g, masks={"fc1": mask})["fc1"]
    assert op.sparsity.pattern is SparsityPattern.UNSTRUCTURED
    assert op.sparsity.weight_density == 0.25


def test_depthwise_conv_cannot_be_pruned_alone():
    """Pruning a depthwise conv directly names the conv that must be pruned instead."""
    with pytest.raises(ValueError, match="'features.2.dw.conv' is a depthwise conv, whose "
                                         "channels follow its input"):
        prune_channels(zoo.mobilenet_v2(), {"features.2.dw.conv": 48})


def test_channel_pruning_propagates_through_concat():
    """A pruned branch of a channel concat shrinks the concat and the conv that reads it."""
    from workloads.builder import GraphBuilder

    b = GraphBuilder("cat")
    x = b.input((1, 8, 4, 4))
    y = b.concat([b.conv2d(x, 16, 3, padding=1, name="a"),
                  b.conv2d(x, 16, 1, name="b")], axis=1)
    b.conv2d(y, 4, 1, name="c")
    c = prune_channels(b.build(), {"a": 4})
    assert c["concat"].out_shape == (1, 20, 4, 4)
    assert c["c"].weight_shape == (4, 20, 1, 1)


@pytest.mark.parametrize(
    ("model", "conv", "consumer", "macs_saved"),
    [
        # VGG-16's last conv feeds fc6 through a flatten: fc6 loses half its 25088 inputs.
        ("vgg16", "conv16", "fc6", 14 * 14 * 512 * 512 * 9 // 2 + 12544 * 4096),
        # MobileNetV2's stem feeds a block without expansion: the depthwise conv and the
        # projection follow.
        ("mobilenet_v2", "features.0.conv", "features.1.project.conv",
         (112 * 112 * 16 * 27 + 112 * 112 * 16 * 9 + 112 * 112 * 16 * 16)),
        ("resnet18", "layer2.0.conv1", "layer2.0.conv2", 28 * 28 * 64 * (64 * 9 + 128 * 9)),
    ],
)
def test_channel_pruning_saves_hand_counted_macs(model, conv, consumer, macs_saved):
    """Halving a conv's outputs saves its own and its consumers' MACs, counted by hand."""
    g = zoo.MODELS[model]()
    c = prune_channels(g, {conv: g[conv].out_shape[1] // 2})
    assert g.macs - c.macs == macs_saved
    assert c[consumer].macs < g[consumer].macs


@pytest.mark.parametrize("name", list(zoo.MODELS))
def test_every_removable_unit_of_every_zoo_model_drops(name):
    """Dropping all disjoint removable units of any zoo model leaves a valid, smaller graph."""
    from workloads.compression.graph_ops import drop_least_important

    kwargs = {"seq_len": 4} if name in ("bert_base", "gpt2", "llama") else {}
    if name == "llama":
        kwargs["layers"] = 2
    g = zoo.MODELS[name](**kwargs)
    units = removable_units(g)
    outer = [u for u in units if not any(u.startswith(v + ".") for v in units)]
    scores = {u: float(len(u)) for u in units}  # stages (shorter names) rank first
    c = drop_least_important(g, scores, len(outer))
    assert not any(op.name.startswith(tuple(u + "." for u in units)) for op in c.ops)
    assert (c.params < g.params) == bool(units)


def test_nested_units_cannot_both_be_dropped():
    """Dropping a ResNet-18 stage and a block inside it is an error naming both."""
    g = zoo.resnet18()
    assert {"layer1", "layer1.0"} <= set(removable_units(g))
    with pytest.raises(ValueError, match="'layer1.0' overlaps 'layer1', which is dropped"):
        drop_units(g, ["layer1", "layer1.0"])
