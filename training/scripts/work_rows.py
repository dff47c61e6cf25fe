"""Dumps the evaluation rows of a work dir (tune, regime, compare, held-out) as JSON lines.

For keeping the numbers of a build that is not shipped (an experiment in another work dir) in `docs/data/`,
where the training report can read them. The first line is {"legend": ...} with the build's sampler and
the text given by --legend.

usage (from training/): .venv/bin/python scripts/work_rows.py --work work-rt --legend "what this build was" \
    > ../docs/data/some-experiment.jsonl
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))

from migm_train.fashion_mnist.report import load_work_file as load  # noqa: E402


def sample_row(stage: str, r: dict) -> dict:
    o = r["options"]
    return {"stage": stage, "method": o["method"], "steps": o["steps"], "budget": o.get("budget"),
            "rtemp": o["randomize_temperature"], "skipped_rtemp": o.get("skipped_randomize_temperature"),
            "guidance": o["guidance"], "images": r["images"], "seeds": [p["seed"] for p in r["per_seed"]],
            "fd": round(r["fd_pooled"], 3), "fd_per_seed": [round(p["fd"], 3) for p in r["per_seed"]],
            "fd_seed_std": round(r["fd_seed_std"], 3), "class_acc": round(r["class_acc"], 4),
            **({"spread": round(r["spread"], 2)} if "spread" in r else {})}  # older builds have no spread


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--legend", required=True)
    args = p.parse_args()
    tune = load(args.work, "tune.json")
    print(json.dumps({"legend": {"what": args.legend, "sampler": tune["best"] if tune else None,
                                 "tune_images": tune["images"] if tune else None}}))
    if tune:
        for r in tune["rows"]:
            print(json.dumps({"stage": "tune", **r["candidate"], "images": tune["images"],
                              "fd": round(r["fd"], 3), "fd_few": round(r["fd_few"], 3),
                              "class_acc": round(r["class_acc"], 4), "class_acc_few": round(r["class_acc_few"], 4)}))
    for stage, name in (("regime", "regime.pt"), ("compare", "compare.pt")):
        data = load(args.work, name)
        for r in (data or {}).get("rows", []):
            print(json.dumps(sample_row(stage, r)))
    held = load(args.work, "heldout.json")
    for r in (held or {}).get("rows", []):
        print(json.dumps({"stage": "heldout", "images": held["images"],
                          **{k: round(v, 5) if isinstance(v, float) else v for k, v in r.items()}}))


if __name__ == "__main__":
    main()
