import { posix } from 'node:path';
import ts from 'typescript';
import type { CodeBlock, Heading, MarkdownDoc } from './markdown';

/**
 * Whether a translation (README.zh-CN.md) still matches its original (README.md): each links to the other near its
 * top, they have the same sections (heading levels, in order) and the same code blocks in the same order. Prose
 * and comments are translated; code is not, so blocks are compared with their comments and blank lines removed.
 */

const SCRIPT: Record<string, ts.ScriptKind> = {
  ts: ts.ScriptKind.TS,
  typescript: ts.ScriptKind.TS,
  js: ts.ScriptKind.JS,
  javascript: ts.ScriptKind.JS,
};
const SHELL = new Set(['sh', 'bash', 'shell', 'zsh', 'console']);

/** Removes the comments of TypeScript or JavaScript, found by the parser (so `//` in a string or regex stays). */
function stripScriptComments(code: string, kind: ts.ScriptKind): string {
  const file = ts.createSourceFile('block', code, ts.ScriptTarget.Latest, true, kind);
  const comments: [number, number][] = [];
  const collect = (pos: number): void => {
    for (const r of [
      ...(ts.getLeadingCommentRanges(code, pos) ?? []),
      ...(ts.getTrailingCommentRanges(code, pos) ?? []),
    ]) {
      comments.push([r.pos, r.end]);
    }
  };
  const visit = (node: ts.Node): void => {
    // JSDoc nodes lie inside a comment: positions there are not code.
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    collect(node.pos);
    collect(node.end);
    node.getChildren(file).forEach(visit);
  };
  visit(file);
  comments.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [pos, end] of comments) {
    if (end <= at) continue;
    out += code.slice(at, Math.max(at, pos));
    at = end;
    // A comment that opens its line takes the spaces after it too, so that the code after it keeps the line's indent.
    if (/(^|\n)[ \t]*$/.test(out)) while (code[at] === ' ' || code[at] === '\t') at++;
  }
  return out + code.slice(at);
}

/** Removes shell comments: a `#` that starts a word outside quotes, to the end of its line. */
function stripShellComments(code: string): string {
  let out = '';
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const c = code[i] ?? '';
    if (quote) {
      if (c === '\\' && quote === '"') {
        out += c + (code[++i] ?? '');
        continue;
      }
      if (c === quote) quote = undefined;
    } else if (c === '\\') {
      out += c + (code[++i] ?? '');
      continue;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(code[i - 1] ?? ''))) {
      while (i < code.length && code[i] !== '\n') i++;
      out += '\n';
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * The code of a block as the comparison sees it: comments removed (`//` and `/* *\/` in TypeScript and
 * JavaScript, `#` in shell, `%%` lines in Mermaid; other languages keep everything), trailing spaces and blank lines
 * dropped.
 */
export function normalizeCode(block: Pick<CodeBlock, 'lang' | 'code'>): string[] {
  const kind = SCRIPT[block.lang];
  let code = block.code;
  if (kind !== undefined) code = stripScriptComments(code, kind);
  else if (SHELL.has(block.lang)) code = stripShellComments(code);
  else if (block.lang === 'mermaid') code = code.replace(/^[ \t]*%%.*$/gm, '');
  return code
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}

function lineRanges(doc: MarkdownDoc): (line: number) => boolean {
  return (line) => doc.blocks.some((b) => line >= b.line && line <= b.endLine);
}

/** Whether `doc` links to `target` (a file next to it) before its first `##` heading, outside code blocks. */
export function linksNearTop(doc: MarkdownDoc, target: string): boolean {
  const first = doc.headings.find((h) => h.level >= 2)?.line ?? doc.lines.length + 1;
  const name = target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const link = new RegExp(
    `(?:\\]\\(\\s*<?|^\\s*\\[[^\\]]+\\]:\\s*<?|href=["'])(?:\\./)?${name}(?:#[^)\\s"'>]*)?(?=[>)\\s"']|$)`,
  );
  const inCode = lineRanges(doc);
  return doc.lines.slice(0, first - 1).some((text, i) => !inCode(i + 1) && link.test(text));
}

function describeHeading(doc: MarkdownDoc, h: Heading): string {
  return `${doc.file}:${h.line} "${'#'.repeat(h.level)} ${h.text}"`;
}

export function headingProblems(original: MarkdownDoc, translation: MarkdownDoc): string[] {
  const a = original.headings.filter((h) => h.level >= 2);
  const b = translation.headings.filter((h) => h.level >= 2);
  const problems: string[] = [];
  const common = Math.min(a.length, b.length);
  let i = 0;
  while (i < common && a[i]?.level === b[i]?.level) i++;
  const [x, y] = [a[i], b[i]];
  if (x && y) {
    const before = i > 0 ? `; the sections before match (${a[i - 1]?.text} / ${b[i - 1]?.text})` : '';
    problems.push(
      `heading ${i + 1} differs: ${describeHeading(original, x)} is level ${x.level} but ` +
        `${describeHeading(translation, y)} is level ${y.level}${before}`,
    );
  }
  if (a.length !== b.length) {
    const [longer, extra] = a.length > b.length ? [original, a[common]] : [translation, b[common]];
    const shorter = longer === original ? translation : original;
    const first =
      x && y ? '' : `; from ${extra ? describeHeading(longer, extra) : '?'} on, ${shorter.file} has no match`;
    problems.push(
      `${original.file} has ${a.length} headings (## and deeper), ${translation.file} has ${b.length}${first}`,
    );
  }
  return problems;
}

function describeBlock(doc: MarkdownDoc, block: CodeBlock): string {
  const n = doc.blocks.indexOf(block) + 1;
  return `code block ${n} (${doc.file}:${block.line}, \`\`\`${block.lang}${block.section ? ` under "${block.section}"` : ''})`;
}

/** Pairs of indexes of equal items in a longest common subsequence of `a` and `b`. */
function commonSubsequence(a: readonly string[], b: readonly string[]): [number, number][] {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  const at = (i: number, j: number): number => table[i]?.[j] ?? 0;
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = table[i];
      if (row) row[j] = a[i] === b[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] === b[j]) pairs.push([i++, j++]);
    else if (at(i + 1, j) >= at(i, j + 1)) i++;
    else j++;
  }
  return pairs;
}

function blockDifference(original: MarkdownDoc, x: CodeBlock, translation: MarkdownDoc, y: CodeBlock): string {
  const head = `${describeBlock(original, x)} differs from ${describeBlock(translation, y)}`;
  if (x.lang !== y.lang) return `${head}: the language is \`\`\`${x.lang} in one and \`\`\`${y.lang} in the other`;
  const [p, q] = [normalizeCode(x), normalizeCode(y)];
  let k = 0;
  while (k < p.length && p[k] === q[k]) k++;
  const show = (line: string | undefined): string => (line === undefined ? '(nothing)' : JSON.stringify(line));
  return `${head} in code line ${k + 1} (comments and blank lines aside): ${show(p[k])} vs ${show(q[k])}`;
}

export function blockProblems(original: MarkdownDoc, translation: MarkdownDoc): string[] {
  const key = (b: CodeBlock): string => `${b.lang}\n${normalizeCode(b).join('\n')}`;
  const a = original.blocks;
  const b = translation.blocks;
  const anchors = [...commonSubsequence(a.map(key), b.map(key)), [a.length, b.length] as [number, number]];
  const problems: string[] = [];
  let [i, j] = [0, 0];
  // Between two identical blocks, blocks are paired in order; the ones left over are missing or extra.
  for (const [nextI, nextJ] of anchors) {
    for (; i < nextI || j < nextJ; i++, j++) {
      const [x, y] = [i < nextI ? a[i] : undefined, j < nextJ ? b[j] : undefined];
      if (x && y) problems.push(blockDifference(original, x, translation, y));
      else if (x) problems.push(`${describeBlock(original, x)} is missing from ${translation.file}`);
      else if (y) problems.push(`${describeBlock(translation, y)} is not in ${original.file}`);
    }
    [i, j] = [nextI + 1, nextJ + 1];
  }
  if (a.length !== b.length) {
    problems.push(`${original.file} has ${a.length} code blocks, ${translation.file} has ${b.length}`);
  }
  return problems;
}

export function linkProblems(original: MarkdownDoc, translation: MarkdownDoc): string[] {
  return [
    [original, translation],
    [translation, original],
  ].flatMap(([from, to]) => {
    if (!from || !to) return [];
    const target = posix.basename(to.file);
    return linksNearTop(from, target) ? [] : [`${from.file} has no link to ${target} before its first ## heading`];
  });
}

/** Every way `translation` has drifted from `original`; empty when they match. */
export function compareTranslation(original: MarkdownDoc, translation: MarkdownDoc): string[] {
  return [
    ...linkProblems(original, translation),
    ...headingProblems(original, translation),
    ...blockProblems(original, translation),
  ];
}
