#!/usr/bin/env python3
"""Leave-one-source-out estimates for the injection filter.

For each source (the part of a row's "source" before the first "/") of the evaluation file that
also occurs in the training files, trains a model without that source's training rows and
evaluates it on that source's evaluation rows only. Sources absent from training are evaluated
with a model trained on everything. Prints one table (and with --json one JSON object per line).

    cargo build --release -p faultline-injection-filter --bin injection-train --bin injection-eval
    python3 crates/injection-filter/tools/loso.py --data DEV.jsonl \
        crates/injection-filter/data/train/*.jsonl

Deterministic: the trainer and the evaluator are.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def source_of(row):
    return (row.get("source") or "").split("/")[0] or "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="evaluation JSONL (text, label, kind, source)")
    ap.add_argument("--bin", default="target/release", help="directory of injection-train and injection-eval")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("train", nargs="+", help="training JSONL files")
    a = ap.parse_args()

    rows = [json.loads(line) for line in open(a.data, encoding="utf-8") if line.strip()]
    trained = set()
    for path in a.train:
        for line in open(path, encoding="utf-8"):
            if line.strip():
                trained.add(source_of(json.loads(line)))
    sources = sorted({source_of(r) for r in rows})
    train_bin = os.path.join(a.bin, "injection-train")
    eval_bin = os.path.join(a.bin, "injection-eval")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'left out':<34} {'n':>6} {'attacks':>8} {'recall':>8} {'benign':>7} {'fpr':>8}")
        for src in sources:
            weights = os.path.join(tmp, "w.bin")
            cmd = [train_bin, "--out", weights]
            held_out = src in trained
            if held_out:
                cmd += ["--exclude-source", src]
            subprocess.run(cmd + a.train, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            part = os.path.join(tmp, "part.jsonl")
            with open(part, "w", encoding="utf-8") as f:
                for r in rows:
                    if source_of(r) == src:
                        f.write(json.dumps(r, ensure_ascii=False) + "\n")
            out = subprocess.run([eval_bin, "--data", part, "--weights", weights, "--json"], check=True,
                                 capture_output=True, text=True).stdout
            res = json.loads(out)
            sub = [r for r in rows if source_of(r) == src]
            pos = sum(1 for r in sub if r.get("label") == 1)
            neg = len(sub) - pos
            name = src if held_out else src + " (never trained on)"
            rec = f"{res['recall']:.4f}" if pos else "-"
            fpr = f"{res['fpr']:.4f}" if neg else "-"
            print(f"{name:<34} {len(sub):>6} {pos:>8} {rec:>8} {neg:>7} {fpr:>8}")
            if a.json:
                print(json.dumps({"source": src, "held_out": held_out, "n": len(sub), "attacks": pos,
                                  "recall": res["recall"] if pos else None, "benign": neg,
                                  "fpr": res["fpr"] if neg else None, "per_kind": res["per_kind"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
