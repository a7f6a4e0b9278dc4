"""Tests of the digits accuracy models: data, layers, training, evaluation under compression."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest

from workloads.accuracy import (
    KINDS,
    MISSING_SKLEARN,
    architecture,
    data,
    digits,
    evaluate,
    finetune,
    from_npz,
    gradients,
    layer_importance,
    layer_shapes,
    layers,
    load_split,
    models,
    removable_layers,
    to_npz_bytes,
    train,
)

NOISE = 0.01


def fake_quant(bits: int):
    """Per-tensor symmetric uniform int-``bits`` fake quantization as a transform."""

    def transform(name: str, x: np.ndarray) -> np.ndarray:
        levels = 2 ** (bits - 1) - 1
        scale = float(np.abs(x).max()) / levels or 1.0
        return np.clip(np.round(x / scale), -levels, levels) * scale

    return transform


def magnitude_masks(trained, sparsity: float) -> dict[str, np.ndarray]:
    """Per-layer masks keeping the largest-magnitude ``1 - sparsity`` of each weight tensor."""
    return {
        name: np.abs(w) > np.quantile(np.abs(w), sparsity) for name, w in trained.weights.items()
    }


@pytest.fixture(scope="session")
def cnn():
    """The default CNN, trained once per test session."""
    return train("cnn")


@pytest.fixture(scope="session")
def mlp():
    """The default MLP, trained once per test session."""
    return train("mlp")


@pytest.fixture(params=["mlp", "cnn"])
def trained(request, mlp, cnn):
    """Each trained model in turn."""
    return {"mlp": mlp, "cnn": cnn}[request.param]


def naive_conv2d(x, w, b, stride, padding):
    """Direct-loop reference convolution (cross-correlation), NCHW."""
    n, c, h, width = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (width + 2 * padding - k) // stride + 1
    out = np.zeros((n, o, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w) + b
    return out


def test_split_is_stratified_scaled_nchw():
    """The split holds 1,347 / 450 images in [0, 1], NCHW float32, classes in proportion."""
    split = load_split()
    assert split.x_train.shape == (1347, 1, 8, 8)
    assert split.x_test.shape == (450, 1, 8, 8)
    assert split.x_train.dtype == np.float32
    assert split.x_test.min() >= 0.0
    assert split.x_test.max() <= 1.0
    all_counts = np.bincount(np.concatenate([split.y_train, split.y_test]))
    expected = all_counts * 450 / all_counts.sum()
    assert np.all(np.abs(np.bincount(split.y_test) - expected) < 1.0)


def test_split_depends_only_on_seed():
    """The same seed picks the same test images; another seed picks others."""
    labels = np.repeat(np.arange(10), 180)
    first = data._stratified_test_indices(labels, 450, 0)
    np.testing.assert_array_equal(first, data._stratified_test_indices(labels, 450, 0))
    assert not np.array_equal(first, data._stratified_test_indices(labels, 450, 1))
    assert np.array_equal(np.bincount(labels[first]), np.full(10, 45))


def test_missing_sklearn_raises_clear_import_error(monkeypatch):
    """Without scikit-learn, loading the digits says which extra to install; specs still work."""
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'hwsim\[digits\]'"):
        data._sklearn_digits()
    assert "scikit-learn" in MISSING_SKLEARN
    assert layer_shapes("cnn")["conv1"] == (16, 1, 3, 3)


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 1), (1, 0), (2, 0)])
def test_conv2d_forward_matches_direct_loops(stride, padding):
    """im2col convolution equals the direct-loop reference."""
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(2, 3, 7, 7)), rng.normal(size=(4, 3, 3, 3)), rng.normal(size=4)
    out, _ = layers.conv2d_forward(x, w, b, stride=stride, padding=padding)
    np.testing.assert_allclose(out, naive_conv2d(x, w, b, stride, padding), rtol=1e-10)


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 1), (2, 0)])
def test_conv2d_backward_is_adjoint_of_forward(stride, padding):
    """Conv input and weight gradients satisfy <dout, conv(x, w)> identities (linearity)."""
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(2, 3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    out, cache = layers.conv2d_forward(x, w, np.zeros(4), stride=stride, padding=padding)
    dout = rng.normal(size=out.shape)
    dx, dw, db = layers.conv2d_backward(dout, cache)
    total = float((dout * out).sum())
    assert float((dx * x).sum()) == pytest.approx(total)
    assert float((dw * w).sum()) == pytest.approx(total)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)))


def test_maxpool_routes_gradient_to_window_maximum():
    """2x2 max pooling takes each window's maximum and sends the gradient only there."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)[:, :, ::-1]
    out, cache = layers.maxpool_forward(np.ascontiguousarray(x), size=2)
    np.testing.assert_array_equal(out[0, 0], [[13.0, 15.0], [5.0, 7.0]])
    dx = layers.maxpool_backward(np.ones_like(out), cache)
    assert dx.sum() == 4.0
    assert np.all(dx[x == out.repeat(2, axis=2).repeat(2, axis=3)] == 1.0)


def test_cnn_reaches_95_percent(cnn):
    """The float32 CNN classifies at least 95 % of the test digits."""
    assert cnn.test_accuracy >= 0.95


def test_mlp_reaches_93_percent(mlp):
    """The float32 MLP classifies at least 93 % of the test digits."""
    assert mlp.test_accuracy >= 0.93


def test_train_is_memoised(cnn):
    """Repeated training requests return the same model without retraining."""
    assert train("cnn", seed=0) is cnn
    assert train("cnn", seed=0, epochs=digits.DEFAULT_EPOCHS["cnn"]) is cnn


@pytest.mark.parametrize(("name", "epochs"), [("mlp", 2), ("cnn", 1)])
def test_training_is_deterministic(name, epochs):
    """Two uncached trainings from one seed give identical weights and accuracy."""
    first, second = digits._train(name, 5, epochs), digits._train(name, 5, epochs)
    for layer in first.weights:
        np.testing.assert_array_equal(first.weights[layer], second.weights[layer])
        np.testing.assert_array_equal(first.biases[layer], second.biases[layer])
    assert first.test_accuracy == second.test_accuracy
    other = digits._train(name, 6, epochs)
    assert not np.array_equal(other.weights[layer], first.weights[layer])


def test_weights_are_read_only(cnn):
    """Trained weights cannot be altered in place."""
    with pytest.raises(ValueError, match="read-only"):
        cnn.weights["conv1"][0, 0, 0, 0] = 1.0


def test_identity_transforms_give_fp32_accuracy(trained):
    """Identity weight and activation transforms and all-ones masks leave accuracy unchanged."""
    ones = {name: np.ones(w.shape, dtype=bool) for name, w in trained.weights.items()}
    accuracy = evaluate(
        trained, weight_transform=lambda n, w: w, act_transform=lambda n, x: x, masks=ones
    )
    assert accuracy == trained.test_accuracy
    assert evaluate(trained) == trained.test_accuracy


def test_transforms_see_every_weighted_layer(trained):
    """Weight and activation transforms are called once per weighted layer, by name."""
    seen_w, seen_x = [], []
    evaluate(
        trained,
        weight_transform=lambda n, w: seen_w.append((n, w.shape)) or w,
        act_transform=lambda n, x: seen_x.append(n) or x,
    )
    assert dict(seen_w) == layer_shapes(trained.model_name)
    assert sorted(set(seen_x)) == sorted(layer_shapes(trained.model_name))


def test_accuracy_falls_as_weight_bits_shrink(trained):
    """Test accuracy falls (within noise) from 8 to 4 to 2 weight bits, and 2 bits hurts."""
    acc = {bits: evaluate(trained, weight_transform=fake_quant(bits)) for bits in (8, 4, 2)}
    assert acc[8] >= trained.test_accuracy - NOISE
    assert acc[8] >= acc[4] - NOISE >= acc[2] - 2 * NOISE
    assert acc[2] < acc[8] - 0.1


def test_activation_quantization_hurts_at_two_bits(trained):
    """8-bit activations keep accuracy; 2-bit activations lose much of it."""
    assert evaluate(trained, act_transform=fake_quant(8)) >= trained.test_accuracy - NOISE
    assert evaluate(trained, act_transform=fake_quant(2)) < trained.test_accuracy - 0.1


def test_accuracy_falls_as_sparsity_grows(trained):
    """Magnitude pruning at 50 %, 90 %, 98 % sparsity lowers accuracy step by step."""
    acc = [evaluate(trained, masks=magnitude_masks(trained, s)) for s in (0.5, 0.9, 0.98)]
    assert trained.test_accuracy >= acc[0] - NOISE
    assert acc[0] >= acc[1] - NOISE >= acc[2] - 2 * NOISE
    assert acc[2] < acc[0] - 0.3


def test_masks_are_checked(cnn):
    """Masks naming unknown layers or with the wrong shape raise ValueErrors."""
    with pytest.raises(ValueError, match="masks keys"):
        evaluate(cnn, masks={"conv9": np.ones((1,), dtype=bool)})
    with pytest.raises(ValueError, match=r"masks\['fc'\] must have shape \(10, 512\)"):
        evaluate(cnn, masks={"fc": np.ones((10, 5), dtype=bool)})


def test_dropping_residual_block_keeps_model_runnable(cnn):
    """Dropping the residual block runs, changes accuracy, and is what layer_importance measures."""
    assert removable_layers("cnn") == ("conv3",)
    dropped = evaluate(cnn, drop={"conv3"})
    assert 0.0 <= dropped <= 1.0
    assert dropped != cnn.test_accuracy
    assert layer_importance(cnn) == {"conv3": pytest.approx(cnn.test_accuracy - dropped)}


def test_drop_rejects_layers_that_are_not_removable(cnn, mlp):
    """Only removable blocks may be dropped."""
    with pytest.raises(ValueError, match="drop must name removable layers"):
        evaluate(cnn, drop={"conv1"})
    assert removable_layers("mlp") == ()
    assert layer_importance(mlp) == {}


def _loss64(model_name, weights, biases, x, y, drop=()):
    """Mean cross-entropy of the given float64 parameters, for finite differences."""
    probs, _ = models.forward(models.specs(model_name), weights, biases, x, drop=drop)
    return layers.cross_entropy(probs, y)[0]


@pytest.mark.parametrize("drop", [(), ("conv3",)])
def test_cnn_gradients_match_finite_differences(cnn, drop):
    """Backpropagated weight gradients equal central finite differences (float64)."""
    x, y = load_split().x_train[:24].astype(np.float64), load_split().y_train[:24]
    weights = {k: np.array(w, dtype=np.float64) for k, w in cnn.weights.items()}
    biases = {k: np.array(b, dtype=np.float64) for k, b in cnn.biases.items()}
    specs = models.specs("cnn")
    probs, caches = models.forward(specs, weights, biases, x, drop=drop)
    dweights, dbiases = models.backward(specs, caches, layers.cross_entropy(probs, y)[1], drop=drop)
    assert ("conv3" in dweights) == (not drop)
    eps = 1e-6
    for name, grad in dweights.items():
        for flat in np.argsort(-np.abs(grad).ravel())[:2]:
            index = np.unravel_index(flat, grad.shape)
            weights[name][index] += eps
            up = _loss64("cnn", weights, biases, x, y, drop)
            weights[name][index] -= 2 * eps
            dn = _loss64("cnn", weights, biases, x, y, drop)
            weights[name][index] += eps
            assert (up - dn) / (2 * eps) == pytest.approx(grad[index], rel=1e-4, abs=1e-8)
    assert set(dbiases) == set(dweights)


def test_mlp_gradients_match_finite_differences(mlp):
    """MLP weight and bias gradients equal central finite differences (float64)."""
    x, y = load_split().x_train[:32].astype(np.float64), load_split().y_train[:32]
    weights = {k: np.array(w, dtype=np.float64) for k, w in mlp.weights.items()}
    biases = {k: np.array(b, dtype=np.float64) for k, b in mlp.biases.items()}
    specs = models.specs("mlp")
    probs, caches = models.forward(specs, weights, biases, x)
    dweights, dbiases = models.backward(specs, caches, layers.cross_entropy(probs, y)[1])
    eps = 1e-6
    for params, grads in ((weights, dweights), (biases, dbiases)):
        for name, grad in grads.items():
            index = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
            params[name][index] += eps
            up = _loss64("mlp", weights, biases, x, y)
            params[name][index] -= 2 * eps
            dn = _loss64("mlp", weights, biases, x, y)
            params[name][index] += eps
            assert (up - dn) / (2 * eps) == pytest.approx(grad[index], rel=1e-4, abs=1e-8)


def test_gradients_cover_every_weighted_layer(trained):
    """gradients() returns one finite dL/dw per weighted layer, shaped like its weights."""
    grads = gradients(trained)
    assert {k: g.shape for k, g in grads.items()} == layer_shapes(trained.model_name)
    assert all(np.isfinite(g).all() and np.abs(g).max() > 0 for g in grads.values())


def test_finetune_keeps_pruned_weights_zero_and_recovers(cnn):
    """Fine-tuning holds masked weights at zero and regains accuracy lost to pruning."""
    masks = magnitude_masks(cnn, 0.8)
    pruned = evaluate(cnn, masks=masks)
    tuned = finetune(cnn, masks=masks, epochs=1, seed=0)
    for name, mask in masks.items():
        assert np.all(tuned.weights[name][~mask] == 0.0)
    assert tuned.test_accuracy > pruned + 0.05
    assert evaluate(tuned, masks=masks) == tuned.test_accuracy
    assert tuned.epochs == cnn.epochs + 1


def test_trained_model_pickles(cnn):
    """A trained model survives pickling (for process pools and Dask) with read-only weights."""
    back = pickle.loads(pickle.dumps(cnn))
    np.testing.assert_array_equal(back.weights["fc"], cnn.weights["fc"])
    assert not back.weights["fc"].flags.writeable
    assert evaluate(back) == cnn.test_accuracy


def test_trained_model_checks_layers(mlp):
    """Weights with missing layers or wrong shapes are rejected at construction."""
    weights = dict(mlp.weights)
    with pytest.raises(ValueError, match="weights must hold layers"):
        digits._rebuild("mlp", 0, 1, {"fc1": weights["fc1"]}, dict(mlp.biases), 0.5)
    weights["fc3"] = np.zeros((10, 63), dtype=np.float32)
    with pytest.raises(ValueError, match=r"weights\['fc3'\] must have shape \(10, 64\)"):
        digits._rebuild("mlp", 0, 1, weights, dict(mlp.biases), 0.5)


def test_npz_round_trip_preserves_model(mlp):
    """A model written to npz bytes and read back has the same weights and accuracy."""
    back = from_npz(to_npz_bytes(mlp))
    assert (back.model_name, back.seed, back.epochs) == (mlp.model_name, mlp.seed, mlp.epochs)
    for name in mlp.weights:
        np.testing.assert_array_equal(back.weights[name], mlp.weights[name])
    assert evaluate(back) == back.test_accuracy == mlp.test_accuracy


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_architecture_shapes_chain(model_name):
    """Each layer's input shape is its producers' output shape, at batch 1, ending in softmax."""
    specs = architecture(model_name)
    shapes = {"input": (1, 1, 8, 8)}
    for spec in specs:
        assert spec.kind in KINDS
        assert all(shapes[src] == spec.input_shape for src in spec.inputs)
        shapes[spec.name] = spec.output_shape
    assert specs[-1].kind == "softmax"
    assert specs[-1].output_shape == (1, 10)
    weighted = {s.name: s.weight_shape for s in specs if s.weight_shape is not None}
    assert weighted == layer_shapes(model_name)


def test_removable_block_preserves_shape():
    """A removable block's output has the shape of its input, so skipping it is valid."""
    specs = architecture("cnn")
    block = [s for s in specs if s.block == "conv3"]
    assert [s.kind for s in block] == ["conv2d", "add", "relu"]
    assert block[0].input_shape == block[-1].output_shape == (1, 32, 4, 4)


def test_bad_arguments_raise_value_errors(cnn):
    """Unknown models, bad epochs/seeds and unknown splits are rejected by name."""
    with pytest.raises(ValueError, match="model_name must be one of"):
        train("resnet")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        train("mlp", epochs=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        train("mlp", seed=-1)
    with pytest.raises(ValueError, match="split must be one of"):
        evaluate(cnn, split="val")
    with pytest.raises(ValueError, match="weight_transform must keep the shape"):
        evaluate(cnn, weight_transform=lambda n, w: w.ravel())
