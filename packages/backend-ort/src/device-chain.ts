import { isMigmError, MigmError } from '@migm/core/backend';

/** One failed device attempt, reported when a fallback chain moves on. */
export interface DeviceFallback {
  readonly device: string;
  readonly error: MigmError;
}

/**
 * Tries each device of a chain in order and returns the first that works, reporting every fallback.
 * Errors other than the runtime failing on that device (bad bundle, disposed) stop the chain at once.
 */
export async function firstWorkingDevice<T>(
  chain: readonly string[],
  attempt: (device: string) => Promise<T>,
  onFallback?: (fallback: DeviceFallback) => void,
): Promise<T> {
  let last: MigmError | undefined;
  for (const device of chain) {
    try {
      return await attempt(device);
    } catch (err) {
      if (!isMigmError(err) || (err.code !== 'BACKEND_FAILURE' && err.code !== 'UNSUPPORTED')) throw err;
      last = err;
      if (device !== chain[chain.length - 1]) onFallback?.({ device, error: err });
    }
  }
  throw last ?? new MigmError('UNSUPPORTED', 'No device to try.');
}
