// Node's entry (the "node" export condition): the same bundleUrl, and bundleDir() through fileURLToPath, which
// gives a platform path (C:\...\bundle\ on Windows, where url.pathname would be /C:/.../bundle/).
import { fileURLToPath } from 'node:url';

export const bundleUrl = new URL('./bundle/', import.meta.url);

/** Absolute directory of the bundle, a platform path. */
export function bundleDir() {
  return fileURLToPath(bundleUrl);
}
