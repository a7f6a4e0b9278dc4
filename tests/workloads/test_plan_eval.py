"""CompressionPlans measured on the real digits models, and their op graphs."""

import pytest

from hwsim.graph import SparsityPattern
from workloads.accuracy.plan_eval import digits_graph, evaluate_plan
from workloads.compression.graph_ops import removable_units
from workloads.compression.plan import CompressionPlan

pytest.importorskip("sklearn")


def _acc(plan, model="cnn", **kw):
    return evaluate_plan(CompressionPlan.from_dict(plan), model, **kw)


def test_digits_cnn_graph_matches_architecture():
    """The CNN's graph has the hand-counted MACs and parameters and one removable block."""
    g = digits_graph("cnn")
    convs = 16 * 64 * 9 + 32 * 64 * 16 * 9 + 32 * 16 * 32 * 9
    assert g.macs == convs + 512 * 10
    assert g.params == (16 * 9 + 16) + (32 * 16 * 9 + 32) + (32 * 32 * 9 + 32) + 5130
    assert removable_units(g) == ("conv3",)


def test_identity_plan_is_fp32_accuracy():
    """An empty plan measures exactly the fp32 test accuracy (>= 95% for the CNN)."""
    r = _acc({})
    assert r.accuracy == r.fp32_accuracy
    assert r.accuracy >= 0.95


def test_accuracy_falls_as_bits_shrink():
    """Measured accuracy is non-increasing (within 1% noise) from 8 to 4 to 2 weight bits."""
    accs = [_acc({"defaults": {"weight_bits": b, "act_bits": 8}}).accuracy for b in (8, 4, 2)]
    assert accs[0] + 0.01 >= accs[1] >= accs[2]
    assert accs[2] < accs[0] - 0.1


def test_accuracy_falls_as_sparsity_grows():
    """Measured accuracy falls (within noise) as magnitude-pruning sparsity grows."""
    accs = [_acc({"defaults": {"weight_sparsity": s}}, model="mlp").accuracy
            for s in (0.5, 0.9, 0.98)]
    assert accs[0] + 0.01 >= accs[1] >= accs[2]


def test_graph_carries_measured_densities():
    """The compressed graph has the densities measured from the real masks."""
    r = _acc({"layers": [{"match": "conv2", "pattern": "2:4"},
                         {"match": "fc", "weight_sparsity": 0.75}]})
    assert r.graph["conv2"].sparsity.pattern is SparsityPattern.NM
    assert r.graph["conv2"].sparsity.weight_density == pytest.approx(0.5)
    assert r.graph["fc"].sparsity.weight_density == pytest.approx(0.25, abs=1e-3)


def test_dropping_the_block_is_measured_and_removed():
    """Dropping the residual block lowers accuracy and removes its ops from the graph."""
    r = _acc({"drop": ["conv3"]})
    assert r.accuracy < r.fp32_accuracy
    assert "conv3.conv3" not in r.graph


def test_unknown_layer_in_plan_rejected():
    """A plan naming a layer the digits model lacks is a clear error."""
    with pytest.raises(ValueError, match="'conv9' matches no op of digits_cnn"):
        _acc({"layers": [{"match": "conv9", "weight_bits": 4}]})


def test_measured_importance_ranks_graph_units():
    """The digits model's measured block importance ranks the units of its op graph."""
    from workloads.accuracy import layer_importance, train
    from workloads.compression.graph_ops import drop_least_important, rank_units

    g = digits_graph("cnn")
    importance = layer_importance(train("cnn"), split="train")
    assert rank_units(g, importance) == ("conv3",)
    assert drop_least_important(g, importance, 1).macs < g.macs


def _pruned_network_accuracy(weights, biases):
    """Top-1 of the CNN run with explicitly shrunk weight tensors."""
    from workloads.accuracy import load_split
    from workloads.accuracy.models import forward, specs

    x, y = load_split().arrays("test")
    probs, _ = forward(specs("cnn"), weights, biases, x)
    return float((probs.argmax(axis=1) == y).mean())


def test_channel_pruning_is_measured_on_the_pruned_network():
    """channel_prune measures the network with the filters and their consumers' inputs
    removed, as in the graph; sparsity is then chosen among the weights that remain."""
    from workloads.accuracy import train
    from workloads.compression.prune import prune_channels, prune_magnitude

    r = _acc({"channel_prune": [{"match": "conv1", "keep": 0.5}],
              "layers": [{"match": "conv2", "weight_sparsity": 0.5}]})
    t = train("cnn")
    kept = prune_channels(t.weights["conv1"], keep_ratio=0.5, axis=0).kept
    conv2 = t.weights["conv2"][:, kept]
    weights = {**t.weights, "conv1": t.weights["conv1"][kept],
               "conv2": prune_magnitude(conv2, sparsity=0.5).values}
    biases = {**t.biases, "conv1": t.biases["conv1"][kept]}
    assert r.accuracy == pytest.approx(_pruned_network_accuracy(weights, biases), abs=1e-9)
    assert r.graph["conv2"].weight_shape == (32, 8, 3, 3)
    assert r.graph["conv2"].sparsity.weight_density == 0.5


def test_sparsity_on_a_dropped_block_is_ignored():
    """A default sparsity with a dropped block measures the rest and omits the block."""
    r = _acc({"drop": ["conv3"], "defaults": {"weight_sparsity": 0.5}})
    assert "conv3.conv3" not in r.graph
    assert r.graph["fc"].sparsity.weight_density == pytest.approx(0.5)


def test_fine_tuning_keeps_the_fp32_baseline():
    """fp32_accuracy stays the unpruned model's accuracy when the plan is fine-tuned."""
    plain = _acc({}, model="mlp")
    tuned = _acc({"defaults": {"weight_sparsity": 0.95}}, model="mlp", finetune_epochs=1)
    assert tuned.fp32_accuracy == plain.fp32_accuracy
    assert tuned.accuracy < plain.fp32_accuracy


def test_evaluation_is_deterministic():
    """The same plan and seed measure the same accuracy and densities twice."""
    plan = {"defaults": {"weight_bits": 4, "act_bits": 6, "weight_sparsity": 0.3}}
    a, b = _acc(plan), _acc(plan)
    assert a.accuracy == b.accuracy
    assert [op.sparsity for op in a.graph.ops] == [op.sparsity for op in b.graph.ops]
