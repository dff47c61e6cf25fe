// Debian's Chromium for the e2e tests (playwright-core drives it; no browser is downloaded), with the flags
// every e2e test launches it with: headless, quiet (no network of its own), WebGPU on (SwiftShader here).
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];
export const hasChromium = existsSync(CHROMIUM);
