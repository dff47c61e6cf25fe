#!/usr/bin/env bash
# Installs everything a fresh Debian machine lacks for building, testing and training migm, the training
# toolkit's Python environment (training/.venv), then the workspace's npm dependencies. Safe to run again: it
# only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Python with venv (the training toolkit's own environment is made below), the dataset,
# Chromium for the browser end-to-end tests (driven by playwright-core; no browser is downloaded), and
# redis-server for the job queue's tests (started by each test on a free loopback port), and the Vulkan loader
# libvulkan1: onnxruntime-node's WebGPU provider (Dawn) loads it and runs on Chromium's SwiftShader Vulkan driver
# in the device-sampler test (Debian 12's mesa lavapipe is refused by Dawn, so mesa-vulkan-drivers is not needed).
# PyTorch comes from pip (training/requirements.txt; its wheel brings its own BLAS): Debian's python3-torch 1.13
# lacks what aMUSEd needs.
APT_PACKAGES=(python3 python3-venv dataset-fashion-mnist chromium fonts-dejavu-core redis-server libvulkan1)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The training toolkit's Python environment: training/.venv from training/requirements.txt (torch, transformers,
# onnxruntime, ...). Skipped when the requirements' sha256 matches the stamp of the last good install. pip is
# told not to retry: where its index is unreachable and a package is on a local store, retries of the index cost
# minutes. open-clip-torch is installed without dependencies: only its BPE merges file (CLIP's vocabulary) is
# read, and its torchvision dependency is not needed.
VENV=training/.venv
STAMP="$VENV/.requirements.sha256"
want="$(cat training/requirements.txt training/requirements-nodeps.txt | sha256sum | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "setup: making $VENV (pip install -r training/requirements.txt)"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check --retries 0 --timeout 10)
  "${PIP[@]}" -r training/requirements.txt
  "${PIP[@]}" --no-deps -r training/requirements-nodeps.txt
  echo "$want" > "$STAMP"
fi

# pnpm through corepack, pinned by package.json's packageManager. The registry here serves no corepack
# signatures, hence COREPACK_INTEGRITY_KEYS=0.
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "10.34.9" ]; then
  echo "setup: enabling pnpm 10.34.9 through corepack"
  COREPACK_INTEGRITY_KEYS=0 corepack enable
  COREPACK_INTEGRITY_KEYS=0 corepack prepare pnpm@10.34.9 --activate >/dev/null
fi

# onnxruntime-node's install script downloads CUDA libraries from a host that is not reachable; pnpm skips it
# (pnpm-workspace.yaml: ignoredBuiltDependencies). The CPU provider ships inside the npm package. The corepack
# setting is scoped to this call (the pnpm shim may fetch pnpm itself); nothing is exported to the caller.
COREPACK_INTEGRITY_KEYS=0 pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -n 3
echo "setup: done"
