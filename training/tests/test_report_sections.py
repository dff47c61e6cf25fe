"""The training report's probe tables, rendered from small synthetic data files."""
import json

from migm_train.report import noise_section


def _row(seed, method, full, skip=1.0, ref=None, budget=None, fd=10.0):
    return {"seed": seed, "method": method, "steps": 16, "budget": budget, "skip_noise": skip, "full_noise": full,
            "skip_beta": 1.0, "images": 2010, "fd": fd, "fd_mean": 1.0, "fd_cov": fd - 1.0, "spread": 50.0,
            "class_acc": 0.95, "fd_vanilla": 1.5, "fd_vanilla_ref_noise": full if ref is None else ref}


def test_noise_section_pairs_seeds_and_keeps_each_setting_beside_its_own_reference(tmp_path):
    rows = [{"legend": {}}]
    for seed in (3, 1):
        rows += [_row(seed, "vanilla", 1.0, fd=15.0 + seed), _row(seed, "vanilla", 1.5, ref=1.0),
                 _row(seed, "shortcut", 1.0, skip=2.0, budget=5),
                 _row(seed, "shortcut", 2.0, skip=2.0, ref=1.0, budget=5),   # scored against r_temp 7: dropped
                 _row(seed, "shortcut", 2.0, skip=2.0, budget=5, fd=12.0),   # against its own r_temp: kept
                 _row(seed, "vanilla", 2.0, ref=1.0), _row(seed, "vanilla", 2.0)]  # the second one is kept
    rows.append(_row(1, "reuse", 1.0, budget=4))  # seed 1 only: dropped
    path = tmp_path / "noise.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = [line for line in noise_section(str(path)) if line.startswith("| ") and not line.startswith("| method")]
    assert table == [
        "| vanilla | 16 | - | 7 | - | 18.00 | 16.00 | 1.50 | 50.0 | 95.0% |",
        "| shortcut | 16 | 5 | 7 | 14 | 10.00 | 10.00 | 1.50 | 50.0 | 95.0% |",
        "| vanilla | 16 | - | 10.5 | - | 10.00 | 10.00 | - | 50.0 | 95.0% |",
        "| vanilla | 16 | - | 14 | - | 10.00 | 10.00 | 1.50 | 50.0 | 95.0% |",
        "| shortcut | 16 | 5 | 14 | 14 | 12.00 | 12.00 | 1.50 | 50.0 | 95.0% |",
    ]
