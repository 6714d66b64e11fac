#!/usr/bin/env python3
"""Export the UCI optical handwritten digits (8x8, 10 classes, 1,797 samples) to CSV.

scikit-learn ships the data set as sklearn/datasets/data/digits.csv.gz. This script reads it
from an installed scikit-learn, or straight out of a scikit-learn wheel given with --wheel
(no install needed), and writes 64 pixel columns (0..16) followed by the label, one sample a
line, in the original order. The committed file Sources/TributaryClient/Resources/digits.csv
was made with:  python3 scripts/export-digits.py --wheel scikit_learn-*.whl
"""
import argparse, gzip, io, sys, zipfile

ap = argparse.ArgumentParser()
ap.add_argument("--wheel", help="path to a scikit-learn wheel (read without installing)")
ap.add_argument("--out", default="Sources/TributaryClient/Resources/digits.csv")
args = ap.parse_args()

if args.wheel:
    raw = zipfile.ZipFile(args.wheel).read("sklearn/datasets/data/digits.csv.gz")
else:
    import importlib.resources as res
    raw = (res.files("sklearn.datasets") / "data" / "digits.csv.gz").read_bytes()

rows = []
for line in io.StringIO(gzip.decompress(raw).decode()):
    vals = [int(float(v)) for v in line.strip().split(",") if v != ""]
    if len(vals) != 65:
        sys.exit(f"unexpected row width {len(vals)}")
    rows.append(vals)
if len(rows) != 1797:
    sys.exit(f"expected 1797 samples, got {len(rows)}")
with open(args.out, "w") as f:
    for r in rows:
        f.write(",".join(map(str, r)) + "\n")
print(f"wrote {len(rows)} samples to {args.out}")
