"""Builds manifest.json, validates it against packages/core/schema/manifest.schema.json, then writes it."""
from __future__ import annotations

import hashlib
import json
import os

SCHEMA_PATH = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "packages", "core",
                                            "schema", "manifest.schema.json"))


class ManifestError(ValueError):
    pass


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_entry(bundle_dir: str, rel: str) -> dict:
    path = os.path.join(bundle_dir, rel)
    return {"path": rel, "bytes": os.path.getsize(path), "sha256": sha256_file(path)}


def validate(manifest: dict, schema_path: str = SCHEMA_PATH) -> None:
    import jsonschema

    with open(schema_path) as fh:
        schema = json.load(fh)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'/'.join(str(p) for p in e.path) or '<root>'}: {e.message}" for e in errors[:20]]
        raise ManifestError("manifest does not match %s; not written:\n%s" % (schema_path, "\n".join(lines)))
    # Cross-field rules the schema cannot express.
    tok = manifest["tokens"]
    if tok["grid"][0] * tok["grid"][1] != tok["count"]:
        raise ManifestError("tokens.grid rows * cols != tokens.count; not written")
    listed = {f["path"] for f in manifest["files"]}
    for role, g in manifest["graphs"].items():
        if g["file"] not in listed:
            raise ManifestError(f"graphs.{role}.file {g['file']} is not listed in files; not written")
        for precision, v in g.get("variants", {}).items():
            if v["file"] not in listed:
                raise ManifestError(f"graphs.{role}.variants.{precision}.file {v['file']} is not listed in files; "
                                    "not written")


def write(manifest: dict, bundle_dir: str, schema_path: str = SCHEMA_PATH) -> str:
    """Validates first: an invalid manifest is never written."""
    validate(manifest, schema_path)
    path = os.path.join(bundle_dir, "manifest.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return path
