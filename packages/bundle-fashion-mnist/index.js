// Where the default bundle lives inside this package. Node resolves a directory path; bundlers and browsers
// get the URL of the folder (serve it from your own origin).
export const bundleUrl = new URL('./bundle/', import.meta.url);

/** Absolute directory of the bundle (Node; file: URLs only). */
export function bundleDir() {
  if (bundleUrl.protocol !== 'file:') throw new Error('bundleDir() needs a file: URL; in browsers fetch from bundleUrl instead.');
  return decodeURIComponent(bundleUrl.pathname);
}
