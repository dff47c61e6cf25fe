export declare const REAL_BUNDLE: string;
export declare const TINY_BUNDLE: string;
export declare function defaultBundleDir(): string;
export declare const ORT_DIST: string;
export declare const ORT_FILES: string[];
export declare const DIST: string;
