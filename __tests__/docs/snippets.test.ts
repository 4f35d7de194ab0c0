import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMarkdown, type CodeBlock, type MarkdownDoc } from './markdown';
import {
  documentationFiles,
  isChecked,
  ROOT,
  SnippetChecker,
  snippetFileName,
  snippetProblems,
} from './snippet-checker';

// Docs are code: every ```ts / ```js block of the docs compiles, under strict settings, against the declarations
// built from lib/. A block that cannot stand alone says so just above its fence:
//   <!-- snippet: partial — why it cannot compile on its own -->
// and is listed as skipped, with its reason. There is no other way to skip a block.

const FIXTURES = join(__dirname, 'fixtures');

function load(file: string, dir = ROOT): MarkdownDoc {
  return parseMarkdown(readFileSync(join(dir, file), 'utf8'), file);
}

const docs = documentationFiles().map((file) => load(file));
const fixture = load('snippets.md', FIXTURES);
const compiled = [...docs, fixture].flatMap((d) => d.blocks).filter((b) => isChecked(b) && b.partial === undefined);

let work: string;
let checker: SnippetChecker;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wps-docs-'));
  checker = new SnippetChecker(compiled, work);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the snippet test itself', () => {
  const [good, broken, partial, shell, ...rest] = fixture.blocks;

  it('extracts every fenced block of the fixture, with its line, language and partial marker', () => {
    expect(rest).toEqual([]);
    expect(fixture.problems).toEqual([]);
    expect(good).toMatchObject({ line: 6, lang: 'ts', section: '# Snippet fixture' });
    expect(good?.code.split('\n')[0]).toBe("import express from 'express';");
    expect(broken).toMatchObject({ line: 21, lang: 'js', code: BROKEN_CODE });
    expect(partial).toMatchObject({ line: 27, lang: 'javascript', partial: 'continues the block above' });
    expect(shell).toMatchObject({ line: 31, lang: 'sh' });
    expect(fixture.blocks.map(isChecked)).toEqual([true, true, true, false]);
  });

  it('compiles top-level await as an ES module, JavaScript without import/export as CommonJS', () => {
    expect(good && snippetFileName(good)).toBe('snippets.md-L6.mts');
    expect(broken && snippetFileName(broken)).toBe('snippets.md-L21.js');
  });

  it('passes a block that uses both entry points, the Express augmentation and top-level await', () => {
    expect(good && checker.report(good)).toBe('');
  });

  it('fails a broken block, naming the line in the block and in the Markdown', () => {
    if (!broken) throw new Error('no broken block');
    expect(checker.diagnostics(broken)).toEqual([
      { line: 2, code: 2322, message: "Type 'number' is not assignable to type 'string'." },
    ]);
    expect(checker.report(broken)).toBe(
      '```js block at snippets.md:21 (# Snippet fixture), compiled as snippets/snippets.md-L21.js, has 1 error(s):\n' +
        "  block line 2 (snippets.md:23): TS2322: Type 'number' is not assignable to type 'string'.\n" +
        '      | module.exports = wpsAuth({ clientId: 42 });',
    );
  });

  it('reports every marker or fence that would let a block escape the test', () => {
    expect(snippetProblems(load('snippet-markers.md', FIXTURES))).toEqual([
      'snippet-markers.md:5: unknown snippet marker <!-- snippet: skip -->; ' +
        'the only one is <!-- snippet: partial — <reason> -->',
      'snippet-markers.md:10: snippet marker is not on the line just before a code fence',
      'snippet-markers.md:16: unknown snippet marker <!-- snippet: partial -->; ' +
        'the only one is <!-- snippet: partial — <reason> -->',
      'snippet-markers.md:26: code fence ```ts is never closed',
      'snippet-markers.md:21: snippet marker on a ```sh block, which is not compiled anyway',
    ]);
  });

  it('finds blocks to check in README.md', () => {
    const readme = docs.find((d) => d.file === 'README.md');
    expect(readme?.blocks.filter(isChecked).length).toBeGreaterThan(0);
  });
});

const BROKEN_CODE = "const { wpsAuth } = require('express-wps-oauth');\nmodule.exports = wpsAuth({ clientId: 42 });";

function title(block: CodeBlock): string {
  return `${block.file}:${block.line}`;
}

describe.each(docs.map((doc) => [doc.file, doc] as const))('%s', (_file, doc) => {
  it('has well-formed fences and snippet markers', () => {
    expect(snippetProblems(doc)).toEqual([]);
  });

  const blocks = doc.blocks.filter(isChecked);
  for (const block of blocks) {
    if (block.partial !== undefined) {
      // One line per skipped block, with its reason (a passing run prints nothing else but the summary).
      process.stderr.write(`skipped ${title(block)}: partial — ${block.partial}\n`);
      it.skip(`${title(block)} — partial: ${block.partial}`, () => undefined);
      continue;
    }
    it(title(block), () => {
      const report = checker.report(block);
      if (report) throw new Error(report);
    });
  }
});
