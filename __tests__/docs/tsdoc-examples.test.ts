import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnippetChecker } from './snippet-checker';
import { tsdocExamples } from './tsdoc';

// Every `@example` in the TSDoc of lib/ compiles under strict, like the README's snippets: against the declarations
// built from lib/, in a consumer project, each example its own module.

const examples = tsdocExamples();
let work: string;
let checker: SnippetChecker;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'wps-tsdoc-'));
  checker = new SnippetChecker(examples, work);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the TSDoc examples of lib/', () => {
  it('are found, with their code', () => {
    expect(examples.length).toBeGreaterThan(20);
    const wpsAuthExample = examples.find((e) => e.section === '@example of wpsAuth');
    expect(wpsAuthExample?.code).toContain("import { wpsAuth } from 'express-wps-oauth';");
  });

  it.each(examples.map((e) => [`${e.file}:${e.line} (${e.section})`, e] as const))('%s compiles', (_name, block) => {
    expect(checker.report(block)).toBe('');
  });
});
