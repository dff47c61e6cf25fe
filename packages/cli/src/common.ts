import { createNodeBackend, type NodeDevice, NODE_DEVICES } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import type { OrtBackend } from '@migm/backend-node';
import { choiceFlag, intFlag } from './args.js';

/** Flags every command that loads a model takes. */
export const backendFlags = {
  bundle: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
} as const;

export interface BackendFlagValues {
  bundle?: string | undefined;
  device?: string | undefined;
  threads?: string | undefined;
}

/** Loads the given bundle, or the embedded default one. */
export async function loadBackend(values: BackendFlagValues, extra: { classifier?: boolean } = {}): Promise<OrtBackend> {
  const device = choiceFlag<NodeDevice>('device', values.device, 'cpu', NODE_DEVICES);
  const threads = intFlag('threads', values.threads, undefined, 1, 256);
  return createNodeBackend({
    bundle: values.bundle ?? bundleDir(),
    device,
    ...(threads !== undefined ? { threads } : {}),
    ...extra,
    onFallback: (f) => process.stderr.write(`migm: ${f.device} unavailable, using the next device: ${f.error.message}\n`),
  });
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
