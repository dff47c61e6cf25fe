// Where the default bundle lives inside this package, for bundlers and browsers (Node takes index.node.js through
// the "node" export condition). Browsers get the URL of the folder: serve its files from your own origin.
export const bundleUrl = new URL('./bundle/', import.meta.url);

/** There is no directory outside Node: fetch from bundleUrl instead. */
export function bundleDir() {
  throw new Error('bundleDir() is for Node (a file: URL); in browsers fetch the bundle from your own origin (see bundleUrl).');
}
