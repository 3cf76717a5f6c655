#!/usr/bin/env python3
"""Benchmark: cell graphs and global graph features on N random nuclei, the Python peers
(scipy.spatial Delaunay/Voronoi/cKDTree, scipy.sparse.csgraph MST, networkx clustering, the
HistomicsTK global cell-graph computation re-stated in numpy) against a RadioPath timing program,
side by side. Not a timed test: numbers are printed and written to bench-out/graphs_bench.{json,md}.

Points: uniform in a square with ~9 µm mean spacing (about 12 000 nuclei/mm², dense tumour),
coordinates in µm, micronsPerPixel 1. Same file for both sides.

The RadioPath side runs `--bin "<radiopath> graph-bench"` with `<n> <points.f64>` appended;
it prints one `label<TAB>seconds` line per step (best of 3), labels: delaunay, knn_graph_k5_25um,
radius_graph_15um, voronoi_bounded (triangulation + bounded cells' area, perimeter, max distance;
the peer builds scipy's Voronoi only), mst (triangulation + Kruskal), features_all.
Without `--bin` only the peers are timed.

usage: bench_graphs.py [--n 100000] [--bin "PROGRAM ARGS"] [--repeats 3]
"""
import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def best(fn, repeats):
    t = float("inf")
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t, out


def pop_stats(pop):
    """HistomicsTK's _pop_stats (3-sigma trimming) plus min and max."""
    pop = np.asarray(pop, dtype=float)
    if pop.size == 0:
        return [0.0] * 6
    while True:
        mean, std = pop.mean(), pop.std()
        mask = abs(pop - mean) <= 3 * std
        if mask.all():
            break
        pop = pop[mask]
    mn, mx = pop.min(), pop.max()
    return [mean, std, mn, mx, mn / mx if mx else 0.0, std / (mean + std) if mean + std else 0.0]


def poly_area(v):
    return abs(0.5 * np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1]))


def histomicstk_features(c):
    """HistomicsTK compute_global_cell_graph_features (radii 10..50, counts 3, 5, 7), in numpy."""
    from scipy import sparse
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Voronoi, cKDTree
    from scipy.spatial.distance import pdist
    vor = Voronoi(c)
    V = vor.vertices
    regions = [r for r in vor.regions if r and -1 not in r]
    out = [pop_stats([poly_area(V[r]) for r in regions]),
           pop_stats([np.sqrt(((V[r] - np.roll(V[r], -1, axis=0)) ** 2).sum(1)).sum() for r in regions]),
           pop_stats([pdist(V[r]).max() for r in regions])]
    rl = np.sqrt(((c[vor.ridge_points[:, 0]] - c[vor.ridge_points[:, 1]]) ** 2).sum(1))
    out.append(pop_stats(rl))
    tris = [[] for _ in V]
    for p, ri in enumerate(vor.point_region):
        for vi in vor.regions[ri]:
            if vi != -1:
                tris[vi].append(p)
    out.append(pop_stats([poly_area(c[t]) for t in tris if len(t) == 3]))
    g = sparse.coo_matrix((rl, np.sort(vor.ridge_points).T), (len(c), len(c)))
    m = minimum_spanning_tree(g)
    out.append(pop_stats(m.data[m.data != 0]))
    t = cKDTree(c)
    for r in (10, 20, 30, 40, 50):
        out.append(pop_stats(np.array([len(x) for x in t.query_ball_tree(t, r)]) - 1))
    for col in t.query(c, [4, 6, 8])[0].T:
        out.append(pop_stats(col))
    return out


def knn_graph(c, k=5, thresh=25.0):
    from scipy.spatial import cKDTree
    d, i = cKDTree(c).query(c, k=k + 1)
    keep = d[:, 1:] <= thresh
    src = np.repeat(np.arange(len(c)), k)[keep.ravel()]
    dst = i[:, 1:].ravel()[keep.ravel()]
    a, b = np.minimum(src, dst), np.maximum(src, dst)
    return np.unique(np.stack([a, b], 1), axis=0)


def peers(c, repeats):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import Delaunay, Voronoi, cKDTree
    import networkx as nx
    rows = {}
    rows["delaunay"], _ = best(lambda: Delaunay(c), repeats)
    rows["knn_graph_k5_25um"], edges = best(lambda: knn_graph(c), repeats)
    rows["radius_graph_15um"], _ = best(lambda: cKDTree(c).query_pairs(15.0, output_type="ndarray"), repeats)
    rows["voronoi_bounded"], _ = best(lambda: Voronoi(c), repeats)  # ours: triangulation + cell measures

    def mst():  # Euclidean MST = MST of the Delaunay graph; triangulation included, as on our side
        indptr, idx = Delaunay(c).vertex_neighbor_vertices
        src = np.repeat(np.arange(len(c)), np.diff(indptr))
        w = np.sqrt(((c[src] - c[idx]) ** 2).sum(1))
        return minimum_spanning_tree(coo_matrix((w, (src, idx)), (len(c), len(c))))
    rows["mst"], _ = best(mst, repeats)

    def features():
        f = histomicstk_features(c)
        G = nx.Graph()
        G.add_nodes_from(range(len(c)))
        G.add_edges_from(edges.tolist())
        cl = nx.clustering(G)
        return f, cl
    rows["features_all"], _ = best(features, 1)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--bin", help="RadioPath timing program: <program> <n> <points.f64> prints label<TAB>seconds")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    c = rng.random((a.n, 2)) * (np.sqrt(a.n) * 9.0)
    pts = out / f"graph_points_{a.n}.f64"
    c.astype("<f8").tofile(pts)

    ref = peers(c, a.repeats)
    ours = {}
    if a.bin:
        p = subprocess.run(shlex.split(a.bin) + [str(a.n), str(pts), "--repeats", str(a.repeats)],
                           capture_output=True, text=True, check=True)
        for line in p.stdout.splitlines():
            label, secs = line.split("\t")
            ours[label] = float(secs)
    lines = [f"graphs on {a.n} random nuclei (2 cores; peers: scipy {__import__('scipy').__version__}, "
             f"networkx {__import__('networkx').__version__}; features_all = HistomicsTK set + kNN clustering, one run)",
             "", "| step | RadioPath s | Python peers s | speed-up |", "|---|---:|---:|---:|"]
    rows = []
    for k, v in ref.items():
        o = ours.get(k)
        lines.append(f"| {k} | {'' if o is None else f'{o:.3f}'} | {v:.3f} | {'' if not o else f'{v / o:.1f}×'} |")
        rows.append({"step": k, "radiopath_s": o, "peer_s": v})
    write_report(out, "graphs_bench", lines, rows)


if __name__ == "__main__":
    main()
