"""Numba kernels of the realistic fold model (the readable reference is ``_reference.py``).

One GEMM ``M x K @ K x N`` repeated over ``G`` groups runs on an ``R x C`` array as folds.
The dataflow maps the GEMM dims to fold dims (index 0 = array rows ``r``, 1 = array columns
``c``, 2 = the streamed, temporal dim ``t``) and fixes the loop order; folds that differ only
in their position inside a loop (first, middle, last) cost the same, so the kernel walks at
most three classes per loop instead of every fold and stays O(1) per layer and design point.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FIELDS = (
    "compute_cycles", "stall_cycles", "dram_read_bytes", "dram_write_bytes",
    "ifmap_sram_read_bytes", "ifmap_sram_write_bytes", "filter_sram_read_bytes",
    "filter_sram_write_bytes", "ofmap_sram_read_bytes", "ofmap_sram_write_bytes", "folds",
)
"""Outputs of the fold model, in the column order of the kernels' ``out`` arrays."""
N_FIELDS = len(FIELDS)

# Fold dim of the GEMM dims (M, K, N) per dataflow code (0 = os, 1 = ws, 2 = is).
POSITIONS = np.array([[0, 2, 1], [2, 0, 1], [1, 0, 2]], dtype=np.int64)
# Loop rank (0 = outermost) of each fold dim (r, c, t); the reduction loop is innermost.
LOOP_RANKS = np.array([[0, 1, 2], [2, 0, 1], [2, 0, 1]], dtype=np.int64)
# Per-layer parameters of ``_graph_kernel``'s ``layers`` table, in column order.
LAYER_COLUMNS = (
    "groups", "m", "n", "k_os", "k_ws", "k_is", "a_sram_bytes", "a_dram_bytes",
    "w_bytes_os", "w_bytes_ws", "w_bytes_is", "o_acc_bytes", "o_act_bytes",
)


@njit(cache=True)
def _classes(n, full, total, cnt, ext, first, last):
    """Fill the (count, extent, is-first, is-last) classes of a loop; return their number."""
    if n == 1:
        cnt[0], ext[0], first[0], last[0] = 1, total, True, True
        return 1
    cnt[0], ext[0], first[0], last[0] = 1, full, True, False
    k = 1
    if n > 2:
        cnt[1], ext[1], first[1], last[1] = n - 2, full, False, False
        k = 2
    cnt[k], ext[k], first[k], last[k] = 1, total - (n - 1) * full, False, True
    return k + 1


@njit(cache=True)
def _reuses(dep_a, dep_b, free, rank, tile, full, elem_bytes, groups, cap):
    """Whether a tensor on fold dims ``dep_a, dep_b`` stays in its SRAM across loop ``free``.

    Its footprint during one iteration of ``free`` is one tile along the dims whose loops
    are outside ``free`` and everything along the others; it must fit half the buffer.
    """
    ea = tile[dep_a] if rank[dep_a] < rank[free] else full[dep_a]
    eb = tile[dep_b] if rank[dep_b] < rank[free] else full[dep_b]
    return ea * eb * elem_bytes * groups <= 0.5 * cap


@njit(cache=True)
def _gemm_kernel(g_total, m, k, n, df, rows, cols, cap_i, cap_f, cap_o, bw_per_cycle,
                 a_sram_bytes, a_dram_bytes, w_bytes, o_acc, o_act, keep_acts, out):
    """Fill ``out[:N_FIELDS]`` for one GEMM layer on one design point.

    g_total, m, k, n: groups and per-group GEMM dims (k after sparsity and format packing).
    df: dataflow code. rows, cols: array size. cap_*: SRAM bytes. bw_per_cycle: DRAM bytes
    per cycle. a_sram_bytes: bytes the array reads of the input operand (im2col view, all
    groups); a_dram_bytes: bytes of the real input tensor; w_bytes: stored weight bytes;
    o_acc, o_act: bytes per output element as a partial sum and as an activation.
    keep_acts: whether activations of at most half the ifmap SRAM stay on chip between ops
    (the input is read from it and the output written to it instead of DRAM).
    """
    pos = POSITIONS[df]
    rank = LOOP_RANKS[df]
    full = np.empty(3, np.int64)
    full[pos[0]], full[pos[1]], full[pos[2]] = m, k, n
    fr, fc = -(-full[0] // rows), -(-full[1] // cols)
    pack = 1
    if fr == 1 and fc == 1:
        pack = max(1, min(rows // full[0], cols // full[1], g_total))
    tile = np.empty(3, np.int64)
    tile[0], tile[1] = min(rows, full[0]), min(cols, full[1])
    tile[2] = full[2]
    if pos[1] != 2:
        budget = 0.5 * cap_o / (tile[1] * o_acc * pack)
        tile[2] = max(1, min(full[2], int(budget)))
    elems = float(g_total) * m * k
    a_unit_sram, a_unit_dram = a_sram_bytes / elems, a_dram_bytes / elems
    w_unit = w_bytes / (float(g_total) * k * n)
    reuse_a = _reuses(pos[0], pos[1], pos[2], rank, tile, full, a_unit_dram, pack, cap_i)
    reuse_w = _reuses(pos[1], pos[2], pos[0], rank, tile, full, w_unit, pack, cap_f)
    a_fetch, o_dram, o_move = a_unit_dram, o_act, 0.0
    if keep_acts and a_dram_bytes <= 0.5 * cap_i:
        a_fetch = 0.0
    if keep_acts and float(g_total) * m * n * o_act <= 0.5 * cap_i:
        o_dram, o_move = 0.0, o_act
    _walk_classes(g_total, pack, full, tile, pos, reuse_a, reuse_w, bw_per_cycle,
                  a_unit_sram, a_fetch, w_unit, o_acc, o_dram, o_move, out)
    out[0] += 2 * min(rows, pack * tile[0]) + min(cols, pack * tile[1]) - 2


@njit(cache=True)
def _walk_classes(g_total, pack, full, tile, pos, reuse_a, reuse_w, bw, a_sram, a_dram,
                  w_unit, o_acc, o_act, o_move, out):
    """Accumulate every fold class's cycles, stalls and bytes into ``out``."""
    cnt = np.empty((4, 3), np.int64)
    ext = np.empty((4, 3), np.int64)
    fst = np.empty((4, 3), np.bool_)
    lst = np.empty((4, 3), np.bool_)
    counts = np.empty(4, np.int64)
    counts[3] = _classes(-(-g_total // pack), pack, g_total, cnt[3], ext[3], fst[3], lst[3])
    for d in range(3):
        counts[d] = _classes(-(-full[d] // tile[d]), tile[d], full[d], cnt[d], ext[d],
                             fst[d], lst[d])
    out[:] = 0.0
    e = np.empty(3, np.int64)
    f = np.empty(3, np.bool_)
    for ip in range(counts[3]):
        for i0 in range(counts[0]):
            for i1 in range(counts[1]):
                for i2 in range(counts[2]):
                    idx = (i0, i1, i2)
                    for d in range(3):
                        e[d], f[d] = ext[d, idx[d]], fst[d, idx[d]]
                    every_last = lst[3, ip] and lst[0, i0] and lst[1, i1] and lst[2, i2]
                    every_first = fst[3, ip] and f[0] and f[1] and f[2]
                    times = cnt[3, ip] * cnt[0, i0] * cnt[1, i1] * cnt[2, i2]
                    _add_fold(ext[3, ip], e, f, lst[pos[1], idx[pos[1]]], every_first,
                              every_last, times, pos, reuse_a, reuse_w, bw, a_sram, a_dram,
                              w_unit, o_acc, o_act, o_move, out)


@njit(cache=True)
def _add_fold(groups, e, first, last_k, every_first, every_last, times, pos, reuse_a,
              reuse_w, bw, a_sram, a_dram, w_unit, o_acc, o_act, o_move, out):
    """Add ``times`` identical folds of one class (``groups`` packed groups) to ``out``.

    a_dram, o_act: DRAM bytes per input / output element (0 for on-chip activations);
    o_move: ifmap-SRAM bytes per output element kept on chip.
    """
    a_elems = float(groups) * e[pos[0]] * e[pos[1]]
    w_elems = float(groups) * e[pos[1]] * e[pos[2]]
    o_elems = float(groups) * e[pos[0]] * e[pos[2]]
    a_fill = a_elems * a_dram if (first[pos[2]] or not reuse_a) else 0.0
    w_fill = w_elems * w_unit if (first[pos[0]] or not reuse_w) else 0.0
    reads = a_fill + w_fill
    writes = o_elems * o_act if last_k else 0.0
    cycles = max(e[2], groups * e[0])
    overlapped = (0.0 if every_first else reads) + (0.0 if every_last else writes)
    stall = max(0.0, overlapped / bw - cycles)
    if every_first:
        stall += reads / bw
    if every_last:
        stall += writes / bw
    psum_reads = 0.0 if first[pos[1]] else o_elems * o_acc
    out[0] += times * cycles
    out[1] += times * stall
    out[2] += times * reads
    out[3] += times * writes
    out[4] += times * a_elems * a_sram
    out[5] += times * (a_fill + (o_elems * o_move if last_k else 0.0))
    out[6] += times * w_elems * w_unit
    out[7] += times * w_fill
    out[8] += times * (psum_reads + (o_elems * o_acc if last_k else 0.0))
    out[9] += times * o_elems * o_acc
    out[10] += times


@njit(cache=True)
def _points_kernel(g_total, m, k_by_df, n, a_sram_bytes, a_dram_bytes, w_by_df, o_acc, o_act,
                   keep_acts, rows, cols, dfs, cap_i, cap_f, cap_o, bw_per_cycle, out):
    """Fill ``out[i, :]`` for one layer at every design point ``i`` (arrays of shape (n,))."""
    row = np.empty(N_FIELDS, np.float64)
    for i in range(rows.shape[0]):
        df = dfs[i]
        _gemm_kernel(g_total, m, k_by_df[df], n, df, rows[i], cols[i], cap_i[i], cap_f[i],
                     cap_o[i], bw_per_cycle[i], a_sram_bytes, a_dram_bytes, w_by_df[df],
                     o_acc, o_act, keep_acts, row)
        out[i, :] = row


@njit(cache=True)
def _graph_kernel(layers, keep_acts, rows, cols, dfs, cap_i, cap_f, cap_o, bw_per_cycle, out):
    """Fill ``out[i, :]`` with the fold-model sums over every layer at design point ``i``.

    layers: float64 array (n_layers, len(LAYER_COLUMNS)); design arrays of shape (n,).
    """
    row = np.empty(N_FIELDS, np.float64)
    out[:, :] = 0.0
    for i in range(rows.shape[0]):
        df = dfs[i]
        for j in range(layers.shape[0]):
            lay = layers[j]
            _gemm_kernel(int(lay[0]), int(lay[1]), int(lay[3 + df]), int(lay[2]), df,
                         rows[i], cols[i], cap_i[i], cap_f[i], cap_o[i], bw_per_cycle[i],
                         lay[6], lay[7], lay[8 + df], lay[11], lay[12], keep_acts, row)
            out[i, :] += row
