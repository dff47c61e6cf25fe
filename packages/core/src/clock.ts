// Core knows no platform: take the high-resolution clock if the host has one (Node, browsers, workers all do).
const perf = (globalThis as { performance?: { now(): number } }).performance;

/** Milliseconds from an arbitrary origin, monotonic where the host allows. */
export const now: () => number = perf ? () => perf.now() : () => Date.now();

/**
 * The part of AbortSignal that core uses. A DOM or Node AbortSignal fits; core needs no platform typings.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
}
