import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// docs/internals.md draws lib/ as layers; this checks them: every relative import of a file in lib/ goes to its own
// folder or to a lower layer — never up, never sideways across a layer. (Type-only imports count too.)

const LIB = path.resolve(__dirname, '../../lib');

/** Layer of each top-level entry of lib/, top (the face) to bottom (the base); what is not listed is the base. */
const LAYERS: ReadonlyArray<readonly string[]> = [
  ['index.ts'],
  ['express', 'events', 'testing'],
  ['refresh', 'tenants'],
  ['wps', 'session', 'redis'],
  ['config.ts'],
];
const BASE = LAYERS.length;

/** Where a file of lib/ sits: its top-level folder (or file), and its layer's index. */
function placeOf(file: string): { unit: string; layer: number } {
  const unit = path.relative(LIB, file).split(path.sep)[0] as string;
  const layer = LAYERS.findIndex((names) => names.includes(unit));
  return { unit, layer: layer === -1 ? BASE : layer };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** The relative imports (and re-exports) of a file, resolved to files of lib/. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\b[^'";]*?from\s+'(\.[^']+)'/gm)) {
    const target = path.resolve(path.dirname(file), m[1] as string);
    found.push(statSafe(`${target}.ts`) ? `${target}.ts` : path.join(target, 'index.ts'));
  }
  return found;
}

function statSafe(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

describe('the layers of lib/ (docs/internals.md)', () => {
  const files = filesUnder(LIB);

  it('finds the files and their imports', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(files.flatMap(importsOf).length).toBeGreaterThan(100);
  });

  it('imports only within a folder or down the layers', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = placeOf(file);
      for (const target of importsOf(file)) {
        const to = placeOf(target);
        const sameUnit = from.unit === to.unit && from.layer !== BASE;
        if (sameUnit || to.layer > from.layer) continue;
        // The base may import the base (errors.ts from outage.ts); nothing else may import its own layer or above.
        if (from.layer === BASE && to.layer === BASE) continue;
        wrong.push(`${path.relative(LIB, file)} → ${path.relative(LIB, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps wps/ free of Express and sessions, and events/ free of express/', () => {
    const offending = files
      .filter((f) => placeOf(f).unit === 'wps')
      .filter((f) => /from '(express|express-session)'/.test(readFileSync(f, 'utf8')));
    expect(offending.map((f) => path.relative(LIB, f))).toEqual([]);
  });
});
