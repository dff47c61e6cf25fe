#!/usr/bin/env bash
# Installs everything a fresh Debian machine lacks for building, testing and training migm, then the
# workspace's npm dependencies. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: PyTorch (with OpenBLAS, ~13x faster than the reference BLAS), the dataset, test tools,
# Chromium for the browser end-to-end tests (driven by playwright-core; no browser is downloaded), and
# redis-server for the job queue's tests (started by each test on a free loopback port), and the Vulkan loader
# libvulkan1: onnxruntime-node's WebGPU provider (Dawn) loads it and runs on Chromium's SwiftShader Vulkan driver
# in the device-sampler test (Debian 12's mesa lavapipe is refused by Dawn, so mesa-vulkan-drivers is not needed).
APT_PACKAGES=(python3-torch libopenblas0-pthread dataset-fashion-mnist python3-numpy python3-pytest python3-pil python3-jsonschema python3-yaml chromium fonts-dejavu-core redis-server libvulkan1)
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

# pnpm through corepack, pinned by package.json's packageManager. The registry here serves no corepack
# signatures, hence COREPACK_INTEGRITY_KEYS=0.
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "10.34.9" ]; then
  echo "setup: enabling pnpm 10.34.9 through corepack"
  COREPACK_INTEGRITY_KEYS=0 corepack enable
  COREPACK_INTEGRITY_KEYS=0 corepack prepare pnpm@10.34.9 --activate >/dev/null
fi
export COREPACK_INTEGRITY_KEYS=0

# onnxruntime-node's install script downloads CUDA libraries from a host that is not reachable; it is skipped
# (.npmrc and pnpm-workspace.yaml). The CPU provider ships inside the npm package.
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | tail -n 3
echo "setup: done"
