import numpy as np
import pytest

from migm_train.fashion_mnist import data
from migm_train.env import SetupError


def test_loads_fashion_mnist():
    d = data.load()
    assert d.train_images.shape == (60000, 28, 28) and d.train_images.dtype == np.uint8
    assert d.test_images.shape == (10000, 28, 28)
    assert set(np.unique(d.train_labels)) == set(range(10))
    assert len(data.CLASS_NAMES) == 10
    x = data.to_float(d.test_images[:4])
    assert x.shape == (4, 1, 28, 28) and 0.0 <= x.min() and x.max() <= 1.0


def test_missing_dataset_says_what_to_install(tmp_path):
    with pytest.raises(SetupError, match="apt-get install dataset-fashion-mnist"):
        data.load(str(tmp_path))
