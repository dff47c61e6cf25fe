// What a new user gets, end to end: every publishable @migm package is packed (`pnpm pack`, which rewrites the
// workspace: ranges), the tarballs are installed with plain npm into a scratch project outside the repository,
// with onnxruntime-node's documented switch that skips its CUDA download (ONNXRUNTIME_NODE_INSTALL=skip), and
// the READMEs' examples are taken from the READMEs themselves, then run as ESM and as CJS and type-checked under
// TypeScript's node16, bundler and node10 resolution. `npx migm generate` writes a PNG. npm talks to the
// registry for third-party packages only (onnxruntime, bullmq, typescript...); @migm/* come from the tarballs.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const rootPkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

interface Pkg {
  dir: string;
  name: string;
  version: string;
  private?: boolean;
  bin?: Record<string, string>;
  repository?: { url?: string; directory?: string };
}

/** Every package a user could install: the workspace packages that are not private. */
const publishable: Pkg[] = readdirSync(join(REPO, 'packages'))
  .map((d) => join(REPO, 'packages', d))
  .filter((d) => existsSync(join(d, 'package.json')))
  .map((dir) => ({ dir, ...(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Omit<Pkg, 'dir'>) }))
  .filter((p) => !p.private);

/** The environment of a user's shell: nothing of pnpm's or npm's own run context leaks into the child. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|pnpm_|PNPM_|INIT_CWD$|VITEST|NODE_OPTIONS$)/.test(k)) env[k] = v;
  return { ...env, ORT_DISABLE_TELEMETRY: '1', ...extra };
}

function run(cmd: string, args: string[], cwd: string, opts: { timeoutMs?: number; env?: Record<string, string>; binary?: boolean } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: userEnv(opts.env),
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
    shell: process.platform === 'win32', // npm, npx and pnpm are .cmd files there
    ...(opts.binary ? {} : { encoding: 'utf8' as const }),
  }) as SpawnSyncReturns<string | Buffer>;
  return r;
}

function ok(r: SpawnSyncReturns<string | Buffer>, what: string): void {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0)
    throw new Error(`${what} exited with ${r.status ?? r.signal}\n--- stdout\n${String(r.stdout).slice(-4000)}\n--- stderr\n${String(r.stderr).slice(-4000)}`);
}

/** The fenced code blocks of a README, in order. */
function codeBlocks(readme: string, lang: string): string[] {
  const text = readFileSync(join(REPO, readme), 'utf8');
  const out: string[] = [];
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```', 'gm');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]!);
  return out;
}

/** The README block that contains `marker` (so a reordered README still finds its example, and a removed one fails). */
function example(readme: string, marker: string): string {
  const hit = codeBlocks(readme, 'ts').filter((b) => b.includes(marker));
  if (hit.length !== 1) throw new Error(`${readme}: expected one ts block containing ${JSON.stringify(marker)}, found ${hit.length}`);
  return hit[0]!;
}

/** ESM to CJS for the READMEs' examples: named imports become require(), the rest runs in an async function. */
function toCjs(esm: string): string {
  const requires: string[] = [];
  const body: string[] = [];
  for (const line of esm.split('\n')) {
    const named = /^import\s+\{([^}]*)\}\s+from\s+'([^']+)';/.exec(line);
    const star = /^import\s+\*\s+as\s+(\w+)\s+from\s+'([^']+)';/.exec(line);
    if (named) requires.push(`const {${named[1]!.replace(/\s+as\s+/g, ': ')}} = require('${named[2]}');`);
    else if (star) requires.push(`const ${star[1]} = require('${star[2]}');`);
    else if (/^import\s/.test(line)) throw new Error(`toCjs: unhandled import: ${line}`);
    else body.push(line);
  }
  return `'use strict';\n${requires.join('\n')}\n(async () => {\n${body.join('\n')}\n})().catch((err) => {\n  console.error(err);\n  process.exitCode = 1;\n});\n`;
}

// Examples that run here as they stand (Node, the embedded bundle, no server).
const RUNNABLE = {
  readme: example('README.md', "from '@migm/bundle-fashion-mnist'"),
  'backend-node': example('packages/backend-node/README.md', 'createNodeBackend'),
  core: example('packages/core/README.md', 'new TestBackend()'),
  shortcut: example('packages/shortcut/README.md', 'getShortcut'),
  bundle: example('packages/bundle-fashion-mnist/README.md', 'bundleDir'),
};
// Examples that need a browser, a Redis server or a bundle path of the reader's: type-checked only.
const TYPED_ONLY = {
  'backend-web': example('packages/backend-web/README.md', 'createWebBackend'),
  queue: example('packages/queue/README.md', 'createQueueWorker'),
  'backend-ort': example('packages/backend-ort/README.md', 'deviceSampling: true'),
};

// node10 (TypeScript's old `node` resolution) ignores package.json exports: the subpaths resolve through typesVersions.
const NODE10 = `import { MigmError, isMigmError } from '@migm/core';
import type { Backend } from '@migm/core/backend';
import { definePredictor } from '@migm/core/sampling';
import { TestBackend } from '@migm/core/testing';
import { getShortcut } from '@migm/shortcut';
import type * as shortcutNode from '@migm/shortcut/node';

export function check(b: Backend, e: unknown): boolean {
  void definePredictor;
  void getShortcut;
  const n: keyof typeof shortcutNode | undefined = undefined;
  void n;
  return b instanceof TestBackend && isMigmError(e, 'ABORTED') && e instanceof MigmError;
}
`;

let work = '';
let project = '';
let tarballs: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'migm-consumer-'));
  const packDir = join(work, 'tarballs');
  mkdirSync(packDir);
  for (const p of publishable) ok(run('pnpm', ['pack', '--pack-destination', packDir], p.dir), `pnpm pack in ${p.name}`);
  tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));

  project = join(work, 'app');
  mkdirSync(project);
  const migm: Record<string, string> = {};
  for (const p of publishable) {
    const file = tarballs.find((t) => t === `${p.name.replace('@', '').replace('/', '-')}-${p.version}.tgz`);
    if (!file) throw new Error(`no tarball for ${p.name}: ${tarballs.join(', ')}`);
    migm[p.name] = `file:../tarballs/${file}`;
  }
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify(
      {
        name: 'migm-consumer',
        private: true,
        type: 'module',
        dependencies: { ...migm, typescript: rootPkg.devDependencies['typescript'], '@types/node': rootPkg.devDependencies['@types/node'] },
        // Each package's @migm/* dependencies are the tarballs too, never the registry.
        overrides: migm,
      },
      null,
      2,
    ),
  );
  // The README's way: the environment variable onnxruntime-node's install script reads (script/install-utils.js).
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project, {
    timeoutMs: 240_000,
    env: { ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  ok(install, 'npm install of the tarballs');
});

afterAll(() => {
  if (work && !process.env.MIGM_KEEP_CONSUMER) rmSync(work, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('every publishable package packs, with its LICENSE, README and repository field', () => {
    expect(publishable.map((p) => p.name).sort()).toEqual(expect.arrayContaining(['@migm/core', '@migm/cli', '@migm/backend-node', '@migm/backend-web']));
    for (const p of publishable) {
      const installed = join(project, 'node_modules', p.name);
      expect(existsSync(join(installed, 'LICENSE')), `${p.name} LICENSE`).toBe(true);
      expect(existsSync(join(installed, 'README.md')), `${p.name} README.md`).toBe(true);
      const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Pkg & { dependencies?: Record<string, string> };
      expect(pkg.repository?.directory, p.name).toBe(`packages/${p.dir.split(/[\\/]/).pop()}`);
      for (const [dep, range] of Object.entries(pkg.dependencies ?? {})) expect(range, `${p.name} -> ${dep}`).not.toMatch(/^workspace:/);
    }
  });

  it('npm installed onnxruntime-node without its CUDA download (only the CPU provider it ships)', () => {
    const bin = join(project, 'node_modules', 'onnxruntime-node', 'bin');
    expect(existsSync(bin)).toBe(true);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) e.isDirectory() ? walk(join(d, e.name)) : files.push(e.name);
    };
    walk(bin);
    expect(files.some((f) => /onnxruntime_binding\.node$/.test(f))).toBe(true);
    expect(files.filter((f) => /cuda|tensorrt/i.test(f))).toEqual([]);
  });
});

describe("the READMEs' examples, as a user's project runs them", () => {
  it.each(Object.entries(RUNNABLE))('%s: runs as ESM, prints its result, writes nothing to stderr', (name, code) => {
    writeFileSync(join(project, `${name}.mjs`), code);
    const r = run('node', [`${name}.mjs`], project, { timeoutMs: 90_000 });
    ok(r, `node ${name}.mjs`);
    expect(String(r.stderr)).toBe(''); // a library prints nothing unless asked
  });

  it.each(Object.entries(RUNNABLE))('%s: runs as CJS (require)', (name, code) => {
    writeFileSync(join(project, `${name}.cjs`), toCjs(code));
    const r = run('node', [`${name}.cjs`], project, { timeoutMs: 90_000 });
    ok(r, `node ${name}.cjs`);
    expect(String(r.stderr)).toBe('');
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('type-checks every example under %s resolution (strict, with the packages’ .d.ts checked too)', (name, resolution) => {
    const dir = join(project, `ts-${name}`);
    mkdirSync(dir, { recursive: true });
    for (const [file, code] of Object.entries({ ...RUNNABLE, ...TYPED_ONLY })) writeFileSync(join(dir, `${file}.ts`), code);
    writeFileSync(
      join(project, `tsconfig.${name}.json`),
      JSON.stringify({
        compilerOptions: { ...resolution, target: 'es2022', lib: ['es2022', 'dom'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
        include: [`ts-${name}/*.ts`],
      }),
    );
    ok(run('node', ['node_modules/typescript/bin/tsc', '-p', `tsconfig.${name}.json`], project, { timeoutMs: 90_000 }), `tsc ${name}`);
  });

  it('type-checks the subpath entries under node10 resolution (typesVersions)', () => {
    mkdirSync(join(project, 'ts-node10'), { recursive: true });
    writeFileSync(join(project, 'ts-node10', 'subpaths.ts'), NODE10);
    writeFileSync(
      join(project, 'tsconfig.node10.json'),
      JSON.stringify({
        compilerOptions: { module: 'commonjs', moduleResolution: 'node10', target: 'es2022', lib: ['es2022'], types: ['node'], strict: true, noEmit: true },
        include: ['ts-node10/*.ts'],
      }),
    );
    ok(run('node', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.node10.json'], project, { timeoutMs: 90_000 }), 'tsc node10');
  });
});

describe('one process, both builds', () => {
  it('isMigmError from ESM recognises an error thrown by the CJS build, and the other way round', () => {
    writeFileSync(
      join(project, 'errors.mjs'),
      `import { createRequire } from 'node:module';
import * as esm from '@migm/core';
const cjs = createRequire(import.meta.url)('@migm/core');
const thrown = (core) => { try { core.validateManifest({}); } catch (err) { return err; } };
const a = thrown(cjs);
const b = thrown(esm);
console.log(JSON.stringify([esm.isMigmError(a, 'INVALID_MANIFEST'), a instanceof esm.MigmError, cjs.isMigmError(b, 'INVALID_MANIFEST'), b instanceof cjs.MigmError, esm.MigmError === cjs.MigmError]));
`,
    );
    const r = run('node', ['errors.mjs'], project);
    ok(r, 'node errors.mjs');
    expect(JSON.parse(String(r.stdout))).toEqual([true, true, true, true, false]);
  });

  it('bundleDir() is the same directory from ESM and CJS, a plain path that exists', () => {
    writeFileSync(
      join(project, 'bundle-dir.mjs'),
      `import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { bundleDir } from '@migm/bundle-fashion-mnist';
const cjs = createRequire(import.meta.url)('@migm/bundle-fashion-mnist');
console.log(JSON.stringify({ esm: bundleDir(), cjs: cjs.bundleDir(), absolute: isAbsolute(bundleDir()), manifest: existsSync(join(bundleDir(), 'manifest.json')) }));
`,
    );
    const r = run('node', ['bundle-dir.mjs'], project);
    ok(r, 'node bundle-dir.mjs');
    const d = JSON.parse(String(r.stdout)) as { esm: string; cjs: string; absolute: boolean; manifest: boolean };
    expect(d.esm.replace(/[\\/]+$/, '')).toBe(d.cjs.replace(/[\\/]+$/, ''));
    expect(d.absolute && d.manifest).toBe(true);
  });
});

describe('the migm command', () => {
  it('npx migm generate writes a PNG with the embedded bundle', () => {
    const r = run(
      'npx',
      ['--no', 'migm', 'generate', '--class', 'sneaker', '--count', '4', '--steps', '8', '--budget', '3', '--seed', '1', '--out', 'grid.png'],
      project,
      {
        timeoutMs: 90_000,
      },
    );
    ok(r, 'npx migm generate');
    const png = readFileSync(join(project, 'grid.png'));
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  });

  it('npx migm info names the bundle', () => {
    const r = run('npx', ['--no', 'migm', 'info'], project, { timeoutMs: 60_000 });
    ok(r, 'npx migm info');
    expect(String(r.stdout)).toMatch(/fashion/i);
  });
});
