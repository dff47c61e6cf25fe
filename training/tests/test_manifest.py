import json
import os

import pytest

from migm_train import manifest


def test_invalid_manifest_is_never_written(tmp_path):
    with pytest.raises(manifest.ManifestError):
        manifest.write({"schemaVersion": 2, "name": "x"}, str(tmp_path))
    assert not os.path.exists(tmp_path / "manifest.json")


def test_schema_is_the_core_one():
    with open(manifest.SCHEMA_PATH) as fh:
        assert json.load(fh)["title"] == "MigmManifest"
