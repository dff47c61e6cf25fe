import type { GraphRole } from '@migm/core/backend';

/**
 * Bytes of one bundle file read and verified so far, and of the whole bundle. Node (`readBundleDir`) and the
 * browser (`fetchBundle`) send the same events: `file-start`, then `file-progress` as bytes arrive and are
 * hashed, then `file-done` once the size and sha256 are checked.
 */
export interface FileProgressEvent {
  readonly type: 'file-start' | 'file-progress' | 'file-done';
  /** The file's path in the manifest. */
  readonly file: string;
  /** Bytes of this file read (and hashed) so far. */
  readonly loaded: number;
  /** Bytes of this file according to the manifest. */
  readonly total: number;
  /** Bytes of the bundle read so far, this file included. */
  readonly totalLoaded: number;
  /** Bytes of every file the manifest lists. */
  readonly totalBytes: number;
  /** True when the bytes came from a cache (the browser's) instead of the network. */
  readonly cached: boolean;
}

/**
 * A cache that could not be used for one file: the load goes on (the file comes from the network), so a full
 * disk or a browser refusing large entries never fails a load. `read` failures also drop the broken entry.
 */
export interface CacheProgressEvent {
  readonly type: 'cache-error';
  readonly file: string;
  readonly operation: 'read' | 'write';
  readonly message: string;
}

/** One onnxruntime session being created (`session-start`) or ready and checked against the manifest (`session-done`). */
export interface SessionProgressEvent {
  readonly type: 'session-start' | 'session-done';
  readonly role: GraphRole;
  readonly file: string;
  /** 0-based position of this session among `count`. */
  readonly index: number;
  readonly count: number;
  /** Milliseconds the session took to create (on `session-done`). */
  readonly ms?: number;
}

/** Everything a bundle load reports, in Node and in the browser. */
export type LoadProgressEvent = FileProgressEvent | CacheProgressEvent | SessionProgressEvent;
