"""The toolkit's own work-dir files are read weights-only: numpy arrays load, a planted payload does not run."""

import numpy as np
import pytest
import torch

from migm_train.fashion_mnist.report import load_work_file
from migm_train.torch_files import load_own


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_own_files_with_numpy_arrays_load(tmp_path):
    obj = {"mu": np.arange(6, dtype=np.float64).reshape(2, 3), "n": np.int64(3), "w": torch.ones(2), "rows": [{"fd": 1.5}]}
    torch.save(obj, tmp_path / "classifier.pt")
    back = load_own(str(tmp_path / "classifier.pt"))
    assert np.array_equal(back["mu"], obj["mu"]) and back["mu"].dtype == np.float64
    assert torch.equal(back["w"], obj["w"]) and back["rows"] == obj["rows"]


def test_planted_work_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"state": torch.zeros(1), "x": _Payload(marker)}, tmp_path / "compare.pt")
    with pytest.raises(Exception) as e:
        load_work_file(str(tmp_path), "compare.pt")
    assert "weights_only" in str(e.value) or "Unsupported global" in str(e.value)
    assert not marker.exists()
