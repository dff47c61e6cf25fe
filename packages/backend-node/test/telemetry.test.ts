import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'migm-telemetry-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs a fresh Node process that loads a bundle, with its own empty home and temp folders. */
function loadInChild(extraArgs: string[], env: Record<string, string> = {}) {
  const home = mkdtempSync(join(root, 'home-'));
  const tmp = mkdtempSync(join(root, 'tmp-'));
  const script = `const { createNodeBackend } = await import(${JSON.stringify(DIST)}); const b = await createNodeBackend({ bundle: ${JSON.stringify(TINY)} }); await b.dispose(); console.log('loaded');`;
  // A user's machine: no ORT_DISABLE_TELEMETRY, and no CI variable (onnxruntime's telemetry stays quiet under CI=true).
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'ORT_DISABLE_TELEMETRY' && k !== 'CI')) as Record<string, string>;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...extraArgs], {
    env: { ...base, HOME: home, TMPDIR: tmp, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, home: readdirSync(home), tmp: readdirSync(tmp) };
}

describe('onnxruntime-node telemetry is off by default', () => {
  it('a process with a 40 KB command line loads a bundle (telemetry on, onnxruntime 1.30 segfaults there) and writes nothing in home or temp', () => {
    const r = loadInChild(Array.from({ length: 400 }, () => 'x'.repeat(100)));
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    expect(r.stdout).toContain('loaded');
    expect(r.home).toEqual([]);
    expect(r.tmp).toEqual([]);
  });
  it('a user who opts in with ORT_DISABLE_TELEMETRY=0 gets onnxruntime telemetry (its cache appears)', () => {
    const r = loadInChild([], { ORT_DISABLE_TELEMETRY: '0' });
    expect(r.status).toBe(0);
    expect(r.home).toEqual(['.cache']);
  });
});
