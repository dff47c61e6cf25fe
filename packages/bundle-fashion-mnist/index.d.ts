/** URL of the bundle folder (manifest.json and the ONNX files). */
export declare const bundleUrl: URL;
/** Absolute directory of the bundle, a platform path (Node; elsewhere it throws: fetch from bundleUrl). */
export declare function bundleDir(): string;
