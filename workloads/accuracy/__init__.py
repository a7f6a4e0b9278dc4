"""Accuracy of small real models under compression, measured on held-out data.

The models train in NumPy from a seed on scikit-learn's bundled handwritten digits
(the optional extra ``hwsim[digits]``); compression is applied to their real weights
through callables and masks, and top-1 accuracy is measured on the test split.
"""

from workloads.accuracy.data import MISSING_SKLEARN, DigitsSplit, load_split
from workloads.accuracy.digits import (
    DEFAULT_EPOCHS,
    TrainedModel,
    architecture,
    evaluate,
    finetune,
    from_npz,
    gradients,
    layer_importance,
    layer_shapes,
    removable_layers,
    to_npz_bytes,
    train,
)
from workloads.accuracy.models import KINDS, MODEL_NAMES, LayerSpec

__all__ = [
    "DEFAULT_EPOCHS",
    "KINDS",
    "MISSING_SKLEARN",
    "MODEL_NAMES",
    "DigitsSplit",
    "LayerSpec",
    "TrainedModel",
    "architecture",
    "evaluate",
    "finetune",
    "from_npz",
    "gradients",
    "layer_importance",
    "layer_shapes",
    "load_split",
    "removable_layers",
    "to_npz_bytes",
    "train",
]
