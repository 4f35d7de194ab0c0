import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// docs/internals.md: functions fit on a screen. Every function, method, arrow function and class body's method in
// lib/ spans at most MAX_LINES lines (its whole text, signature to closing brace, TSDoc not counted).

const LIB = path.resolve(__dirname, '../../lib');
const MAX_LINES = 60;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** Every function-like node of a file, with its name (or where it starts) and how many lines it spans. */
export function functionLengths(file: string): { name: string; lines: number }[] {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const named = (node as { name?: ts.Node }).name;
      const name = named !== undefined ? named.getText(source) : `(anonymous at line ${start + 1})`;
      found.push({ name: `${path.relative(LIB, file)}: ${name}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('functions in lib/', () => {
  const all = filesUnder(LIB).flatMap(functionLengths);

  it('are found', () => {
    expect(all.length).toBeGreaterThan(200);
  });

  it(`span at most ${MAX_LINES} lines each`, () => {
    const long = all.filter((f) => f.lines > MAX_LINES).map((f) => `${f.name} (${f.lines} lines)`);
    expect(long).toEqual([]);
  });
});
