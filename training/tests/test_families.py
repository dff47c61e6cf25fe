"""The toolkit's layout: a folder per family over shared parts, one registry line each (migm_train/families.py)."""
import ast
import importlib
import os
import subprocess
import sys

from migm_train.env import TRAINING_DIR
from migm_train.families import FAMILIES

PKG = os.path.join(TRAINING_DIR, "migm_train")
# The shared parts: every module outside the family folders (the registry and the CLI that walks it aside).
FAMILY_FOLDERS = {f.folder for f in FAMILIES}
SHARED = sorted(os.path.relpath(os.path.join(root, n), PKG) for root, dirs, names in os.walk(PKG)
                for n in names if n.endswith(".py") and os.path.relpath(root, PKG).split(os.sep)[0] not in FAMILY_FOLDERS
                and n not in ("cli.py", "families.py"))


def test_every_family_has_its_folder_commands_and_adapter():
    assert [f.name for f in FAMILIES] == ["fashion-mnist", "maskgit512", "amused"]
    for f in FAMILIES:
        assert os.path.isfile(os.path.join(PKG, f.folder, "commands.py")), f.folder
        assert f.adapter.startswith(f.folder + ".")
        adapter = importlib.import_module(f"migm_train.{f.adapter}")
        # the adapter trains with the shared trainer, not a trainer of its own
        assert "migm_train.shortcut" in open(adapter.__file__).read().replace("..shortcut", "migm_train.shortcut")


def _runtime_imports(path: str) -> list[str]:
    """Modules imported by a file, outside `if TYPE_CHECKING:` blocks, as written (relative dots kept)."""
    tree = ast.parse(open(path).read())
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            out.append("." * node.level + (node.module or ""))
            out.extend("." * node.level + (node.module + "." if node.module else "") + a.name for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return out


def test_shared_parts_know_no_family():
    folders = [f.folder for f in FAMILIES]
    assert {"export.py", "staging.py", "vq_decoder.py", os.path.join("shortcut", "train.py")} <= set(SHARED)
    for rel in SHARED:
        for mod in _runtime_imports(os.path.join(PKG, rel)):
            assert not any(f".{folder}" in mod or f"migm_train.{folder}" in mod for folder in folders), (rel, mod)


def test_families_do_not_import_each_other():
    folders = [f.folder for f in FAMILIES]
    for folder in folders:
        for name in os.listdir(os.path.join(PKG, folder)):
            if not name.endswith(".py"):
                continue
            for mod in _runtime_imports(os.path.join(PKG, folder, name)):
                others = [o for o in folders if o != folder]
                assert not any(mod.startswith(f"..{o}") or f"migm_train.{o}" in mod for o in others), (folder, name, mod)


def test_cli_commands_come_from_the_registry_without_torch():
    code = ("import sys; from migm_train import cli\n"
            "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TRAINING_DIR)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[-1] == "False"  # the parser is built before torch is needed (env.require_torch's message)
    for cmd in ("build", "report", "import-maskgit", "train-maskgit-shortcut", "record-maskgit", "import-amused",
                "record-amused", "train-amused-shortcut", "quantize"):
        assert cmd in res.stdout, cmd
