#!/usr/bin/env python3
"""Benchmark: the radiomics-paper model, `radiopath model` vs the same pipeline in scikit-learn,
on scikit-learn's breast-cancer table (569 cases, 30 features). Not a timed test: numbers go to
bench-out/model_bench.{md,json}.

RadioPath: `radiopath model bc.csv --split 0.3 --folds 10 --lambda min` end to end (process
start, CSV parsing, LASSO path with 10-fold CV, metrics, tables and four PNG plots).
scikit-learn: StandardScaler + LogisticRegressionCV(penalty='l1', solver='liblinear') over the
same λ grid (C = 1/(λ·n_train), glmnet's 100-value log grid from λmax to 1e-4·λmax), 10
stratified folds scored by log-loss, refit, then roc_auc_score on train and test — the
statistics only (no plots, no tables), timed inside the interpreter after imports.
Each side: best of --repeats, single-threaded as both run by default.

usage: bench_model.py --bin .build/release/radiopath [--repeats 3]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import measure, write_report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench-out"))
    a = ap.parse_args()
    import warnings
    warnings.filterwarnings("ignore")  # sklearn's deprecation notices for penalty= and legacy attributes
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, train_test_split
    from sklearn.preprocessing import StandardScaler

    d = load_breast_cancer()
    X, y = d.data, (d.target == 0).astype(int)
    names = [n.replace(" ", "_") for n in d.feature_names]
    tmp = Path(tempfile.mkdtemp(prefix="bench-model-"))
    csv = tmp / "bc.csv"
    with open(csv, "w") as f:
        f.write(",".join(["id", "outcome"] + names) + "\n")
        for i in range(len(y)):
            f.write(",".join([f"c{i}", str(y[i])] + [repr(float(v)) for v in X[i]]) + "\n")

    ours, our_auc = float("inf"), None
    for r in range(a.repeats):
        s, mib, out = measure([a.bin, "model", csv, "--split", "0.3", "--seed", "1", "--folds", "10",
                               "--lambda", "min", "--out", tmp / f"out{r}", "--json"], capture=True)
        ours = min(ours, s)
        our_auc = json.loads(out)["test_auc"]

    def sklearn_pipeline():
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=1)
        sc = StandardScaler().fit(Xtr)
        Z, Zte = sc.transform(Xtr), sc.transform(Xte)
        lmax = np.abs(Z.T @ (ytr - ytr.mean())).max() / len(ytr)
        lams = lmax * 1e-4 ** (np.arange(100) / 99)
        m = LogisticRegressionCV(Cs=1 / (lams * len(ytr)), penalty="l1", solver="liblinear", intercept_scaling=1e4,
                                 cv=StratifiedKFold(10, shuffle=True, random_state=1), scoring="neg_log_loss",
                                 max_iter=10000, tol=1e-7).fit(Z, ytr)
        return roc_auc_score(ytr, m.decision_function(Z)), roc_auc_score(yte, m.decision_function(Zte))

    theirs, their_auc = float("inf"), None
    for _ in range(a.repeats):
        t = time.perf_counter()
        _, their_auc = sklearn_pipeline()
        theirs = min(theirs, time.perf_counter() - t)

    rows = [{"tool": "radiopath model", "seconds": ours, "test_auc": our_auc},
            {"tool": "scikit-learn LogisticRegressionCV l1/liblinear", "seconds": theirs, "test_auc": their_auc}]
    lines = ["| pipeline (breast cancer, 100 λ, 10-fold CV) | seconds | test AUC |", "|---|---:|---:|",
             f"| radiopath model (whole run, plots and tables) | {ours:.3f} | {our_auc:.4f} |",
             f"| scikit-learn LogisticRegressionCV (statistics only) | {theirs:.3f} | {their_auc:.4f} |",
             f"| ratio scikit-learn / radiopath | {theirs / ours:.1f}× | |"]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    write_report(out, "model_bench", lines, rows)


if __name__ == "__main__":
    main()
