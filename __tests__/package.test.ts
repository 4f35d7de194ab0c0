import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { note } from './helpers/notes';

// What `npm pack` ships, built and packed from a copy of the work tree so that the real dist/ (which other scripts
// may be using) is never deleted under them.

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}

interface ExportTarget {
  types?: string;
  default?: string;
}

const ROOT = join(__dirname, '..');
const SKIP = new Set(['node_modules', '.git', 'dist', 'coverage', 'e2e-artifacts']);
/**
 * Packed size budget (`npm pack --dry-run` shows today's size): it catches shipped tests, maps or a stray dump —
 * each would double the tarball — not the growth of features.
 */
const MAX_PACKED_BYTES = 256 * 1024;

let work: string;
let pack: PackResult;
let paths: string[];
let unpacked: string;
let pkg: { exports: Record<string, ExportTarget | string>; main: string; types: string; files: string[] };

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full) : [full];
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wps-pack-'));
  const copy = join(work, 'tree');
  cpSync(ROOT, copy, {
    recursive: true,
    filter: (src) => !SKIP.has(basename(src)) && !src.endsWith('.tgz'),
  });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  run('npm', ['run', 'build', '--silent'], copy);
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], copy);
  const [result] = JSON.parse(out) as PackResult[];
  if (!result) throw new Error(`npm pack printed no result: ${out}`);
  pack = result;
  paths = pack.files.map((f) => f.path).sort();
  mkdirSync(join(work, 'unpacked'));
  execFileSync('tar', ['-xzf', join(work, pack.filename), '-C', join(work, 'unpacked')]);
  unpacked = join(work, 'unpacked', 'package');
  pkg = JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8'));
  note(
    `npm pack: ${pack.filename} ${(pack.size / 1024).toFixed(1)} kB packed, ` +
      `${(pack.unpackedSize / 1024).toFixed(1)} kB unpacked, ${pack.entryCount} files`,
  );
}, 90_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships only dist/, the two READMEs, LICENSE and package.json', () => {
    const top = ['README.md', 'README.zh-CN.md', 'LICENSE', 'package.json'];
    const outside = paths.filter((p) => !p.startsWith('dist/') && !top.includes(p));
    expect(outside).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining([...top, 'dist/index.js']));
    expect(pkg.files).toEqual(['dist', 'README.md', 'README.zh-CN.md', 'LICENSE']);
  });

  it('ships no tests and no TypeScript sources, only .js and .d.ts (maps optional)', () => {
    const dist = paths.filter((p) => p.startsWith('dist/'));
    expect(dist.filter((p) => !/\.(js|d\.ts)(\.map)?$/.test(p))).toEqual([]);
    expect(
      paths.filter((p) => /(^|\/)(__tests__|test-consumers|e2e|bench|examples)\/|\.(test|spec)\./.test(p)),
    ).toEqual([]);
    const withoutTypes = dist.filter((p) => p.endsWith('.js') && !paths.includes(p.replace(/\.js$/, '.d.ts')));
    expect(withoutTypes).toEqual([]);
  });

  it('ships no secrets: no env, key or npmrc files, and no key material or test secrets in any file', () => {
    expect(paths.filter((p) => /(^|\/)(\.env[^/]*|\.npmrc|[^/]*\.(pem|key|p12|pfx))$/.test(p))).toEqual([]);
    const patterns = [
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      /DO-NOT-LEAK/, // the test suite's client secret
      /test-session-secret/,
      /\b(ghp|gho|npm)_[A-Za-z0-9]{30,}/,
      /\bkso_(ac|rt)_[A-Za-z0-9_-]{16,}/, // a real-looking WPS code or refresh token
    ];
    const envSecret = process.env.WPS_CLIENT_SECRET;
    const found: string[] = [];
    for (const file of listFiles(unpacked)) {
      const text = readFileSync(file, 'utf8');
      for (const pattern of patterns) if (pattern.test(text)) found.push(`${relative(unpacked, file)}: ${pattern}`);
      if (envSecret && envSecret.length >= 8 && text.includes(envSecret))
        found.push(`${relative(unpacked, file)}: WPS_CLIENT_SECRET`);
    }
    expect(found).toEqual([]);
    expect(
      listFiles(unpacked)
        .map((f) => relative(unpacked, f))
        .sort(),
    ).toEqual(paths);
  });

  it(`stays under ${MAX_PACKED_BYTES / 1024} kB packed`, () => {
    expect(pack.size).toBeGreaterThan(0);
    expect(pack.size).toBeLessThan(MAX_PACKED_BYTES);
  });

  it('exports `.` and `./testing` with `types` first, and every target is shipped', () => {
    for (const entry of ['.', './testing']) {
      const target = pkg.exports[entry] as ExportTarget;
      expect([entry, Object.keys(target)]).toEqual([entry, ['types', 'default']]);
      expect(target.types).toMatch(/\.d\.ts$/);
    }
    const targets = Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)));
    const shipped = [...targets, pkg.main, pkg.types].map((t) => t.replace(/^\.\//, ''));
    expect(shipped.filter((t) => !paths.includes(t))).toEqual([]);
    expect(existsSync(join(unpacked, 'dist/testing/index.d.ts'))).toBe(true);
  });
});
