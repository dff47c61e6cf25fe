import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * Whether onnxruntime-node's CUDA provider library is installed next to its binding. Without it, asking
 * onnxruntime for CUDA fails anyway, after printing its own coloured error log to stderr; checking the file
 * first lets the backend report one clear UNSUPPORTED error instead. True when it cannot tell (an unusual
 * install layout): then onnxruntime is asked and its error is reported.
 */
export function cudaProviderInstalled(): boolean {
  let dir: string;
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    dir = join(dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return true;
  }
  if (!existsSync(join(dir, 'onnxruntime_binding.node'))) return true;
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  return existsSync(join(dir, lib));
}
