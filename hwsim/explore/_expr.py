"""A restricted evaluator for constraint expressions such as ``"rows * cols <= 16384"``.

Expressions are parsed once with :mod:`ast` and checked against a whitelist of node
types, parameter names and functions; evaluation walks the tree with NumPy operations,
so one call evaluates a whole column of design points. Nothing reaches :func:`eval`.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: np.negative,
    ast.UAdd: np.positive,
    ast.Not: np.logical_not,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.In: lambda a, b: np.isin(a, b),
    ast.NotIn: lambda a, b: np.logical_not(np.isin(a, b)),
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "min": lambda *a: functools.reduce(np.minimum, a),
    "max": lambda *a: functools.reduce(np.maximum, a),
    "sqrt": np.sqrt,
    "log2": np.log2,
    "log10": np.log10,
    "ceil": np.ceil,
    "floor": np.floor,
}
_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name,
    ast.Constant, ast.Tuple, ast.List, ast.Load, ast.And, ast.Or,
    *_BINARY, *_UNARY, *_COMPARE,
)


@dataclass(frozen=True)
class Expression:
    """A parsed, validated constraint expression over named parameters.

    Parameters
    ----------
    text : str
        The expression, Python syntax restricted to arithmetic (``+ - * / // % **``),
        comparisons (chained allowed, ``in`` / ``not in`` a literal list), ``and``, ``or``,
        ``not``, numeric and string literals, parameter names and the functions
        ``abs, min, max, sqrt, log2, log10, ceil, floor``.
    names : frozenset of str
        The parameter names the expression may use.
    """

    text: str
    names: frozenset[str]
    _tree: ast.Expression = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tree", _parse(self.text, self.names))

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate over ``env`` (name -> scalar or 1-D array); returns a scalar or array.

        Integer values are computed as floats, so ``2 ** rows`` cannot wrap around.
        """
        env = {name: _as_float_if_int(value) for name, value in env.items()}
        with np.errstate(all="ignore"):
            try:
                return _eval(self._tree.body, env)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"constraint {self.text!r} failed to evaluate: {exc}") from exc


def _as_float_if_int(value: Any) -> Any:
    array = np.asarray(value)
    if array.dtype.kind in "iu":
        return array.astype(np.float64)
    return value


def _parse(text: str, names: frozenset[str]) -> ast.Expression:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"constraint must be a non-empty expression string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"constraint {text!r} is not a valid expression: {exc.msg}") from exc
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        _check_node(node, text, names)
        if isinstance(node, ast.Name) and node.id not in names and id(node) not in called:
            raise ValueError(f"constraint {text!r}: function {node.id!r} must be called, "
                             f"as in {node.id}(x)")
    return tree


def _check_node(node: ast.AST, text: str, names: frozenset[str]) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ValueError(
            f"constraint {text!r}: {type(node).__name__} is not allowed; use arithmetic, "
            "comparisons, and/or/not, literals, parameter names and "
            f"{', '.join(sorted(_FUNCTIONS))}"
        )
    if isinstance(node, ast.Call):
        _check_call(node, text)
    elif isinstance(node, ast.Name) and node.id not in names and node.id not in _FUNCTIONS:
        raise ValueError(
            f"constraint {text!r}: unknown name {node.id!r}; known parameters: "
            f"{', '.join(sorted(names))}"
        )
    elif isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str):
        raise ValueError(f"constraint {text!r}: literal {node.value!r} is not allowed")


def _check_call(node: ast.Call, text: str) -> None:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        raise ValueError(
            f"constraint {text!r}: only the functions {', '.join(sorted(_FUNCTIONS))} "
            "may be called"
        )
    if node.keywords or not node.args:
        raise ValueError(f"constraint {text!r}: {node.func.id}() takes positional arguments")


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Tuple | ast.List):
        return [_eval(item, env) for item in node.elts]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, env))
    if isinstance(node, ast.BoolOp):
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return functools.reduce(combine, (_eval(v, env) for v in node.values))
    if isinstance(node, ast.Compare):
        return _eval_compare(node, env)
    call = cast(ast.Call, node)
    name = cast(ast.Name, call.func).id
    return _FUNCTIONS[name](*(_eval(arg, env) for arg in call.args))


def _eval_compare(node: ast.Compare, env: Mapping[str, Any]) -> Any:
    left = _eval(node.left, env)
    result: Any = True
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _eval(right_node, env)
        result = np.logical_and(result, _COMPARE[type(op)](left, right))
        left = right
    return result
