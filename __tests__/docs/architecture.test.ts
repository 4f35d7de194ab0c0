import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// The README's "Architecture" section is a file map of lib/: every file in lib/ is named in it, under its folder,
// and everything it names exists. Moving or adding a file without updating the map fails here.

const ROOT = path.resolve(__dirname, '../..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [path.relative(path.join(ROOT, 'lib'), full)];
  });
}

/** The map: the `text` block of the README's "## Architecture" section. */
function fileMap(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Architecture\n'));
  const block = /```text\n([\s\S]*?)```/.exec(section ?? '');
  if (block?.[1] === undefined) throw new Error('README.md has no "## Architecture" section with a ```text file map');
  return block[1];
}

/**
 * The map's lines grouped by folder: a line `  name/ …` (or `  name/sub/ …` for a nested folder) opens a folder; its
 * continuation lines belong to it.
 */
function namedByFolder(map: string): Map<string, Set<string>> {
  const byFolder = new Map<string, Set<string>>();
  let folder = '';
  for (const line of map.split('\n').slice(1)) {
    const opens = /^ {2}([a-z-]+(?:\/[a-z-]+)*)\/\s/.exec(line);
    if (opens?.[1] !== undefined) folder = opens[1];
    else if (/^ {2}\S/.test(line)) folder = '';
    const names = byFolder.get(folder) ?? new Set<string>();
    for (const m of line.matchAll(/\b([a-z][a-z0-9-]*\.ts)\b/g)) names.add(m[1] as string);
    byFolder.set(folder, names);
  }
  return byFolder;
}

describe("README.md's architecture section", () => {
  const map = namedByFolder(fileMap());
  const files = filesUnder(path.join(ROOT, 'lib'));

  it('names every file of lib/ under its folder', () => {
    const missing = files.filter((file) => {
      const folder = path.dirname(file) === '.' ? '' : path.dirname(file);
      return !map.get(folder)?.has(path.basename(file));
    });
    expect(missing).toEqual([]);
  });

  it('names nothing that is not there', () => {
    const extra: string[] = [];
    for (const [folder, names] of map) {
      for (const name of names) if (!files.includes(path.join(folder, name))) extra.push(path.join(folder, name));
    }
    expect(extra).toEqual([]);
  });
});
