"""One line per run of a GPU session: epochs, best and last validation CE, seconds.

    python3 scripts/gpu_summary.py runs/gpu
"""
import glob
import json
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "runs/gpu"
for f in sorted(glob.glob(f"{root}/*/metrics.jsonl")):
    recs = [json.loads(line) for line in open(f) if line.strip()]
    if recs:
        best = min(recs, key=lambda r: r["val_ce"] if r["val_ce"] is not None else 1e9)
        print(f"{f.split('/')[-2]:12s} epochs {len(recs):3d} steps {recs[-1]['global_step']:6d} "
              f"best val_ce {best['val_ce']:.4f} at epoch {best['epoch']}, last {recs[-1]['val_ce']:.4f}, "
              f"train {recs[-1]['train_ce']:.4f}, {sum(r['seconds'] for r in recs):.0f} s")
