"""The training report's probe tables, rendered from small synthetic data files."""
import json

from migm_train.fashion_mnist.report import noise_section, retune_section


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


def _sampled(stage, method, steps, budget=None, fd=10.0, skipped=None, label=None):
    row = {"stage": stage, "method": method, "steps": steps, "budget": budget, "rtemp": 14.0, "skipped_rtemp": skipped,
           "guidance": 5.0, "images": 2010, "seeds": [1, 2, 3], "fd": fd, "fd_per_seed": [fd] * 3,
           "fd_seed_std": 0.5, "class_acc": 0.95, "spread": 55.0}
    return {**row, "label": label} if label else row


def test_retune_section_lists_each_row_once_against_vanilla_n16(tmp_path):
    rows = [{"legend": {"what": "An experiment.", "sampler": {"guidance": 5.0, "randomize_temperature": 14.0},
                        "tune_images": 250}},
            {"stage": "tune", "guidance": 5.0, "guidance_schedule": "linear", "randomize_temperature": 14.0,
             "images": 250, "fd": 17.0, "fd_few": 27.0, "class_acc": 0.93, "class_acc_few": 0.96},
            _sampled("regime", "vanilla", 4, fd=25.0), _sampled("regime", "vanilla", 16, fd=12.0),
            _sampled("compare", "vanilla", 4, fd=25.0),  # the same setting as the regime row: listed once
            _sampled("compare", "shortcut", 16, 5, fd=13.2),
            _sampled("probe", "shortcut", 16, 5, fd=12.6, skipped=21.0),
            _sampled("probe", "shortcut", 16, 5, fd=14.0, label="shortcut (shipped)"),
            {"stage": "heldout", "images": 200, "step": 1, "shortcut_kl": 0.1, "reuse_kl": 0.2, "taylor_kl": 0.3,
             "shortcut_cos": 0.9, "reuse_cos": 0.8, "taylor_cos": 0.7}]
    path = tmp_path / "retune.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    lines = retune_section(str(path))
    assert "| 5 linear | 14 (picked) | 17.00 | 27.00 | 93.0% |" in lines
    assert any("FD <= 13.20" in line for line in lines)
    table = [line for line in lines if line.startswith("| ") and ("vanilla |" in line or "shortcut" in line)]
    assert table == [
        "| vanilla | 4 | - | - | 25.00 | 0.50 | 95.0% | 55.0 | +108.3% |",
        "| vanilla | 16 | - | - | 12.00 | 0.50 | 95.0% | 55.0 | +0.0% |",
        "| shortcut (retrained) | 16 | 5 | 14 | 13.20 | 0.50 | 95.0% | 55.0 | +10.0% |",
        "| shortcut (retrained) | 16 | 5 | 21 | 12.60 | 0.50 | 95.0% | 55.0 | +5.0% |",
        "| shortcut (shipped) | 16 | 5 | 14 | 14.00 | 0.50 | 95.0% | 55.0 | +16.7% |",
    ]
    assert lines[-1].startswith("Held-out one-step prediction (200 images")
