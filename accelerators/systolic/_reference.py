"""Plain-Python reference of the realistic fold model: every fold, one after another.

It walks the loop nest literally (group passes, then the dataflow's three fold loops in
order), remembers which operand tiles have been loaded, and applies the model's rules fold
by fold. ``_kernels._gemm_kernel`` must give the same figures through fold classes.

The model, per fold of an ``R x C`` array:

* The dataflow maps GEMM dims to fold dims: OS ``(r, c, t) = (M, N, K)``, WS ``(K, N, M)``,
  IS ``(K, M, N)``; loops run OS ``r, c, t`` and WS/IS ``c, t, r`` (reduction innermost).
* WS and IS cut the streamed dim ``t`` into chunks whose partial sums (``t_chunk x C`` at the
  accumulator width) fit half the ofmap SRAM, so partial sums never leave the chip.
* Small GEMMs whose per-group tile fits the array several times pack that many groups on
  the array's diagonal (depthwise convolutions on WS).
* A fold takes ``max(t_len, rows in use)`` cycles: the next stationary tile loads (or, in
  OS, the finished outputs drain) while the current one streams. Once per op the first
  load and the pipeline skew add ``2 * rows in use + cols in use - 2``.
* An operand tile comes from DRAM the first time it is used; it is used again from SRAM
  if everything the operand touches between two uses fits half its SRAM, else re-fetched.
* With ``keep_acts``, an input or output activation of at most half the ifmap SRAM stays
  on chip between ops: it is neither read from nor written to DRAM (the output goes to the
  ifmap SRAM instead).
* Each fold's DRAM traffic overlaps that fold's compute (the next fold's operands arrive
  while the current one computes); the excess is a stall. The first fold's reads and the
  last fold's writes cannot overlap and stall in full.
"""

from __future__ import annotations

import itertools
import math

MAPPING = {"os": {"m": "r", "n": "c", "k": "t"}, "ws": {"k": "r", "n": "c", "m": "t"},
           "is": {"k": "r", "m": "c", "n": "t"}}
LOOP_ORDER = {"os": ("r", "c", "t"), "ws": ("c", "t", "r"), "is": ("c", "t", "r")}
OPERANDS = {"a": ("m", "k"), "w": ("k", "n"), "o": ("m", "n")}


def _tiles(total: int, size: int) -> list[int]:
    """Extents of the consecutive tiles of ``size`` covering ``total``."""
    n = math.ceil(total / size)
    return [size] * (n - 1) + [total - (n - 1) * size]


def _footprint_fits(dims: tuple[str, ...], free: str, order: tuple[str, ...], tile: dict,
                    full: dict, unit: float, groups: int, cap: float) -> bool:
    """Whether the operand's data touched during one iteration of loop ``free`` fits."""
    elems = 1
    for d in dims:
        elems *= tile[d] if order.index(d) < order.index(free) else full[d]
    return elems * unit * groups <= cap / 2


def gemm_fold_model_reference(*, groups: int, m: int, k: int, n: int, dataflow: str,
                              rows: int, cols: int, ifmap_sram_bytes: float,
                              filter_sram_bytes: float, ofmap_sram_bytes: float,
                              bw_bytes_per_cycle: float, a_sram_bytes: float,
                              a_dram_bytes: float, w_bytes: float, o_acc_bytes: float,
                              o_act_bytes: float, keep_acts: bool = False) -> dict[str, float]:
    """The fold model's figures (keys ``_kernels.FIELDS``) by walking every fold."""
    to_fold = MAPPING[dataflow]
    full = {to_fold["m"]: m, to_fold["k"]: k, to_fold["n"]: n}
    order = LOOP_ORDER[dataflow]
    tile = {"r": min(rows, full["r"]), "c": min(cols, full["c"]), "t": full["t"]}
    pack = 1
    if full["r"] <= rows and full["c"] <= cols:
        pack = max(1, min(rows // full["r"], cols // full["c"], groups))
    if to_fold["k"] != "t":
        tile["t"] = max(1, min(full["t"], int(ofmap_sram_bytes / 2 / (tile["c"] * o_acc_bytes
                                                                       * pack))))
    units = {"a_sram": a_sram_bytes / (groups * m * k), "a": a_dram_bytes / (groups * m * k),
             "w": w_bytes / (groups * k * n)}
    fold_dims = {name: tuple(to_fold[g] for g in dims) for name, dims in OPERANDS.items()}
    free = {name: next(d for d in "rct" if d not in on) for name, on in fold_dims.items()}
    reuse = {
        "a": _footprint_fits(fold_dims["a"], free["a"], order, tile, full, units["a"], pack,
                             ifmap_sram_bytes),
        "w": _footprint_fits(fold_dims["w"], free["w"], order, tile, full, units["w"], pack,
                             filter_sram_bytes),
    }
    folds = _fold_list(groups, pack, order, tile, full)
    on_chip = {"w": False, "a": keep_acts and a_dram_bytes <= ifmap_sram_bytes / 2,
               "o": keep_acts and groups * m * n * o_act_bytes <= ifmap_sram_bytes / 2}
    totals = _walk(folds, fold_dims, to_fold["k"], reuse, units, bw_bytes_per_cycle,
                   o_acc_bytes, o_act_bytes, on_chip)
    totals["compute_cycles"] += 2 * min(rows, pack * tile["r"]) + min(cols, pack * tile["c"]) - 2
    return totals


def _fold_list(groups: int, pack: int, order: tuple[str, ...], tile: dict,
               full: dict) -> list[tuple[int, int, dict]]:
    """Every fold in execution order: (pass index, groups in the pass, {dim: (index, len)})."""
    out = []
    for p, g in enumerate(_tiles(groups, pack)):
        ranges = [list(enumerate(_tiles(full[d], tile[d]))) for d in order]
        for combo in itertools.product(*ranges):
            out.append((p, g, dict(zip(order, combo, strict=True))))
    return out


def _walk(folds: list, fold_dims: dict, red: str, reuse: dict, units: dict, bw: float,
          o_acc: float, o_act: float, on_chip: dict) -> dict[str, float]:
    """Apply the per-fold rules to every fold and sum."""
    keys = ("compute_cycles", "stall_cycles", "dram_read_bytes", "dram_write_bytes",
            "ifmap_sram_read_bytes", "ifmap_sram_write_bytes", "filter_sram_read_bytes",
            "filter_sram_write_bytes", "ofmap_sram_read_bytes", "ofmap_sram_write_bytes",
            "folds")
    tot = dict.fromkeys(keys, 0.0)
    seen: dict[str, set] = {"a": set(), "w": set()}
    n_red = max(f[2][red][0] for f in folds) + 1
    for i, (p, g, pos) in enumerate(folds):
        size = {name: g * math.prod(pos[d][1] for d in on) for name, on in fold_dims.items()}
        fill = {}
        for name in ("a", "w"):
            tile_key = (p, *(pos[d][0] for d in fold_dims[name]))
            fetched = tile_key not in seen[name] or not reuse[name]
            seen[name].add(tile_key)
            fill[name] = size[name] * units[name] if fetched and not on_chip[name] else 0.0
        last_k = pos[red][0] == n_red - 1
        out_bytes = size["o"] * o_act if last_k else 0.0
        reads, writes = fill["a"] + fill["w"], 0.0 if on_chip["o"] else out_bytes
        cycles = max(pos["t"][1], g * pos["r"][1])
        first, last = i == 0, i == len(folds) - 1
        overlapped = (0.0 if first else reads) + (0.0 if last else writes)
        stall = max(0.0, overlapped / bw - cycles)
        stall += (reads / bw if first else 0.0) + (writes / bw if last else 0.0)
        psum_reads = size["o"] * o_acc if pos[red][0] > 0 else 0.0
        for key, value in zip(keys, (
                cycles, stall, reads, writes, size["a"] * units["a_sram"],
                fill["a"] + (out_bytes if on_chip["o"] else 0.0),
                size["w"] * units["w"], fill["w"],
                psum_reads + (size["o"] * o_acc if last_k else 0.0), size["o"] * o_acc, 1),
                strict=True):
            tot[key] += value
    return tot
