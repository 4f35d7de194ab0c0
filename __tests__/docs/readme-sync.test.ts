import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMarkdown, type MarkdownDoc } from './markdown';
import { ROOT } from './snippet-checker';
import { blockProblems, compareTranslation, headingProblems, linkProblems, normalizeCode } from './translation-sync';

// README.zh-CN.md is README.md translated: the same sections and the same code, with prose and comments in Chinese.
// Each links to the other near its top.

function load(dir: string, file: string, label = file): MarkdownDoc {
  return parseMarkdown(readFileSync(join(dir, file), 'utf8'), label);
}

describe('the comparison itself', () => {
  const fixtures = join(__dirname, 'fixtures', 'sync');
  const pair = (name: string): [MarkdownDoc, MarkdownDoc] => [
    load(join(fixtures, name), 'README.md', `${name}/README.md`),
    load(join(fixtures, name), 'README.zh-CN.md', `${name}/README.zh-CN.md`),
  ];

  it('accepts a pair whose comments, comment columns and blank lines differ but whose code does not', () => {
    const [en, zh] = pair('in-sync');
    expect(en.blocks).toHaveLength(4);
    expect(compareTranslation(en, zh)).toEqual([]);
  });

  it('reports each way a pair can drift apart, naming the section or block', () => {
    const [en, zh] = pair('out-of-sync');
    expect(compareTranslation(en, zh)).toEqual([
      'out-of-sync/README.md has no link to README.zh-CN.md before its first ## heading',
      'out-of-sync/README.zh-CN.md has no link to README.md before its first ## heading',
      'heading 2 differs: out-of-sync/README.md:13 "### Use" is level 3 but out-of-sync/README.zh-CN.md:11 ' +
        '"## 使用" is level 2; the sections before match (Install / 安装)',
      'out-of-sync/README.md has 3 headings (## and deeper), out-of-sync/README.zh-CN.md has 4',
      'code block 1 (out-of-sync/README.md:9, ```sh under "## Install") differs from code block 1 ' +
        '(out-of-sync/README.zh-CN.md:7, ```sh under "## 安装") in code line 1 (comments and blank lines aside): ' +
        '"npm install demo" vs "npm install demo@2"',
      'code block 2 (out-of-sync/README.md:15, ```ts under "### Use") differs from code block 2 ' +
        '(out-of-sync/README.zh-CN.md:13, ```js under "## 使用"): the language is ```ts in one and ```js in the other',
      'code block 4 (out-of-sync/README.md:23, ```js under "### Use") is missing from out-of-sync/README.zh-CN.md',
      'code block 5 (out-of-sync/README.zh-CN.md:27, ```sh under "## 选项") is not in out-of-sync/README.md',
    ]);
  });

  it('names the first extra heading when the shared ones agree, and counts code blocks', () => {
    const [en] = pair('in-sync');
    const shorter: MarkdownDoc = { ...en, file: 'short.md', headings: en.headings.slice(0, 2), blocks: [] };
    expect(headingProblems(en, shorter)).toEqual([
      'in-sync/README.md has 3 headings (## and deeper), short.md has 1; ' +
        'from in-sync/README.md:14 "## Use" on, short.md has no match',
    ]);
    expect(blockProblems(en, shorter).at(-1)).toBe('in-sync/README.md has 4 code blocks, short.md has 0');
  });

  it('strips comments only: `//` in strings and regexes and `#` inside quotes or words are code', () => {
    expect(
      normalizeCode({ lang: 'ts', code: "const u = 'http://x'; // c\n/* d */ f(/a\\/\\/b/); /** e */\n\n" }),
    ).toEqual(["const u = 'http://x';", 'f(/a\\/\\/b/);']);
    expect(normalizeCode({ lang: 'sh', code: 'echo a#b "#c" \'#d\' \\#e # f\n# g\n' })).toEqual([
      'echo a#b "#c" \'#d\' \\#e',
    ]);
    expect(normalizeCode({ lang: 'text', code: 'a // b\n# c' })).toEqual(['a // b', '# c']);
  });
});

describe('README.zh-CN.md', () => {
  const zhPath = join(ROOT, 'README.zh-CN.md');
  const en = load(ROOT, 'README.md');
  const zh = existsSync(zhPath) ? load(ROOT, 'README.zh-CN.md') : undefined;
  const translation = (): MarkdownDoc => {
    if (!zh) throw new Error('README.zh-CN.md does not exist: write it as a translation of README.md');
    return zh;
  };

  it('exists', () => {
    expect(existsSync(zhPath)).toBe(true);
  });

  it('links to README.md near its top, and README.md links to it', () => {
    const placeholder: MarkdownDoc = { file: 'README.zh-CN.md', lines: [], blocks: [], headings: [], problems: [] };
    const problems = linkProblems(en, zh ?? placeholder);
    expect(problems).toEqual([]);
  });

  it('has the same sections as README.md (heading levels, in order)', () => {
    const problems = headingProblems(en, translation());
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });

  it('has the same code blocks as README.md, in order (comments aside)', () => {
    const problems = blockProblems(en, translation());
    if (problems.length > 0) throw new Error(problems.join('\n'));
  });
});
