// The release path on the project's Node, as a dry run: `changeset status` and `changeset version` (what
// `pnpm version-packages` runs) on a copy of the workspace's manifests and pending changesets in a scratch git
// repository, so the real tree is never modified. Checks that every pending changeset is consumed, that the
// published packages move to one new version together (config: fixed @migm/*), that private packages are left
// alone, and that each published package gets a CHANGELOG.md.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CHANGESET = createRequire(join(REPO, 'package.json')).resolve('@changesets/cli/bin.js');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
}

/** Workspace package folders, from pnpm-workspace.yaml's `packages` list (plain `dir/*` and `dir` entries). */
function workspaceDirs(): string[] {
  const yaml = readFileSync(join(REPO, 'pnpm-workspace.yaml'), 'utf8');
  const block = /^packages:\n((?:\s+-\s+.+\n?)+)/m.exec(yaml)?.[1] ?? '';
  const dirs: string[] = [];
  for (const m of block.matchAll(/-\s+['"]?([^'"\n]+)['"]?/g)) {
    const glob = m[1]!.trim();
    if (glob.endsWith('/*')) {
      const parent = glob.slice(0, -2);
      for (const d of readdirSync(join(REPO, parent))) if (existsSync(join(REPO, parent, d, 'package.json'))) dirs.push(`${parent}/${d}`);
    } else if (existsSync(join(REPO, glob, 'package.json'))) dirs.push(glob);
  }
  return dirs;
}

const dirs = workspaceDirs();
const read = (root: string, dir: string): Manifest => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
const pending = readdirSync(join(REPO, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');

/** A pending changeset's front matter (package: bump lines) and summary. */
function parse(file: string): { front: string; body: string } {
  const text = readFileSync(join(REPO, '.changeset', file), 'utf8');
  const [, front = '', body = ''] = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text) ?? [];
  return { front, body: body.trim() };
}
const namedIn = (file: string): string[] => [...parse(file).front.matchAll(/^['"]?(@migm\/[\w-]+)['"]?\s*:/gm)].map((m) => m[1]!);

let scratch = '';

function git(...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.name=migm-dry-run', '-c', 'user.email=dry-run@invalid', '-c', 'commit.gpgsign=false', ...args], {
    cwd: scratch,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}

function changeset(...args: string[]): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|pnpm_|PNPM_|VITEST)/.test(k)) env[k] = v;
  const r = spawnSync(process.execPath, [CHANGESET, ...args], { cwd: scratch, encoding: 'utf8', env: { ...env, NO_COLOR: '1', CI: '1' }, timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'migm-changesets-'));
  for (const f of ['package.json', 'pnpm-workspace.yaml']) cpSync(join(REPO, f), join(scratch, f));
  cpSync(join(REPO, '.changeset'), join(scratch, '.changeset'), { recursive: true });
  for (const d of dirs) {
    mkdirSync(join(scratch, d), { recursive: true });
    cpSync(join(REPO, d, 'package.json'), join(scratch, d, 'package.json'));
  }
  // changesets reads git (status: what changed since the base branch; the changelog: which commit added each changeset).
  writeFileSync(join(scratch, '.gitignore'), 'node_modules\n');
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'dry run');
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('changesets on the project Node (dry run in a copy)', () => {
  it(`runs on this Node (${process.version}) at all`, () => {
    const r = changeset('--version');
    expect(r.status, r.out).toBe(0);
  });

  it('changeset status lists the pending release', () => {
    const r = changeset('status', '--verbose');
    expect(r.status, r.out).toBe(0);
    if (pending.length > 0) expect(r.out).toMatch(/@migm\/core/);
  });

  // Right after a release nothing is pending, and there is nothing to version.
  it.runIf(pending.length > 0)('changeset version consumes every pending changeset, bumps the published packages together and writes their CHANGELOGs', () => {
    const before = new Map(dirs.map((d) => [d, read(scratch, d)]));
    const r = changeset('version');
    expect(r.status, r.out).toBe(0);
    // changesets keeps a changeset that names only ignored packages (config.ignore: the private bench, demo, ...).
    const ignored = new Set((JSON.parse(readFileSync(join(REPO, '.changeset', 'config.json'), 'utf8')) as { ignore: string[] }).ignore);
    const onlyIgnored = pending.filter((f) => namedIn(f).length > 0 && namedIn(f).every((n) => ignored.has(n))); // an empty one is consumed
    expect(readdirSync(join(scratch, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual(onlyIgnored);

    const published = dirs.filter((d) => !before.get(d)!.private);
    expect(published.length).toBeGreaterThanOrEqual(8);
    const versions = new Set(published.map((d) => read(scratch, d).version));
    expect(versions.size, `one version for all of @migm/*: ${[...versions].join(', ')}`).toBe(1);
    const [version] = versions;
    for (const d of published) {
      expect(version, d).not.toBe(before.get(d)!.version);
      const log = join(scratch, d, 'CHANGELOG.md');
      expect(existsSync(log), `${d}/CHANGELOG.md`).toBe(true);
      const text = readFileSync(log, 'utf8');
      expect(text).toContain(`## ${version}`);
      expect(text.length).toBeGreaterThan(100);
    }
    for (const d of dirs.filter((d) => before.get(d)!.private)) {
      expect(read(scratch, d).version, `${d} is private: not versioned`).toBe(before.get(d)!.version);
      expect(existsSync(join(scratch, d, 'CHANGELOG.md')), `${d} is private: no CHANGELOG`).toBe(false);
    }
    // Each changeset's text reaches the changelog of every package it names.
    const dirOf = new Map(dirs.map((d) => [before.get(d)!.name, d]));
    for (const file of pending) {
      const firstLine = parse(file).body.split('\n')[0]!.trim();
      for (const name of namedIn(file)) {
        const d = dirOf.get(name);
        if (!d || before.get(d)!.private) continue;
        expect(readFileSync(join(scratch, d, 'CHANGELOG.md'), 'utf8'), `${file} in ${name}'s CHANGELOG`).toContain(firstLine);
      }
    }
  });

  it('the real tree is untouched: the changesets are still pending there', () => {
    expect(readdirSync(join(REPO, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual(pending);
    expect(dirname(CHANGESET)).toContain('node_modules');
  });
});
