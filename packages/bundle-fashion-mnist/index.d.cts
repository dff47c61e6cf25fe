/** URL of the bundle folder (manifest.json and the ONNX files). */
export declare const bundleUrl: URL;
/** Absolute directory of the bundle, for Node. */
export declare function bundleDir(): string;
