import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The script imports the built packages (dist), as a user's checkout runs it after `pnpm build`.
const script = fileURLToPath(new URL('../scripts/device-check.mjs', import.meta.url));
const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const run = (args: string[]) => promisify(execFile)(process.execPath, [script, '--bundle', TINY, ...args], { maxBuffer: 1 << 24 });

interface DeviceRow {
  error?: string;
  resolvedDevice?: string;
  parity?: Record<string, number>;
  generate?: Record<string, { msPerImage: number; tokensEqualToCpu?: number; backendShare: number }>;
  concurrentEqualsSequential?: boolean;
  liveFeaturesAfter?: number;
}

describe('scripts/device-check.mjs', () => {
  it('checks every graph and both settings on each device, and reports a device that cannot start', async () => {
    const { stdout } = await run(['--devices', 'cpu,cuda,auto,webgpu', '--batch', '2', '--runs', '1']);
    const { devices } = JSON.parse(stdout) as { devices: Record<string, DeviceRow> };
    const { cpu, cuda, auto, webgpu } = devices as Record<'cpu' | 'cuda' | 'auto' | 'webgpu', DeviceRow>;
    expect(Object.keys(cpu.generate!)).toEqual(['vanilla N4', 'shortcut N4 B2']);
    expect(cpu.concurrentEqualsSequential).toBe(true);
    expect(cpu.liveFeaturesAfter).toBe(0);
    // Where CUDA or WebGPU is missing (every CI machine) the device is an error row and the run goes on;
    // where present, its graphs must agree with the CPU's.
    for (const row of [cuda, webgpu]) {
      if (row.error) continue;
      for (const diff of Object.values(row.parity!)) expect(diff).toBeLessThanOrEqual(1e-3);
    }
    if (cuda.error) {
      expect(cuda.error).toMatch(/Device 'cuda' (failed to start|is not available)/);
      expect(auto.resolvedDevice).toBe('cpu');
    }
    expect(Object.keys(auto.parity!).sort()).toEqual(['decode.pixels', 'forward.feature', 'forward.logits', 'guidedHead.logits', 'head.logits', 'velocity']);
    for (const cell of Object.values(auto.generate!)) {
      expect(cell.backendShare).toBeGreaterThan(0);
      expect(cell.backendShare).toBeLessThan(1);
      // A second backend with the same seed draws the same tokens (exactly, on the CPU).
      if (auto.resolvedDevice === 'cpu') expect(cell.tokensEqualToCpu).toBe(1);
    }
  }, 120_000);

  it('exits 1 when a device named by --require did not start', async () => {
    await expect(run(['--devices', 'cpu', '--batch', '1', '--runs', '1', '--require', 'webgpu'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('required device(s) did not start: webgpu'),
    });
  }, 120_000);
});
