import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import type { CodeBlock } from './markdown';
import { ROOT } from './snippet-checker';

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? filesUnder(full) : full.endsWith('.ts') ? [full] : [];
    });
}

/** The name of the declaration a TSDoc comment documents, for messages. */
function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = (node as { name?: ts.Node }).name;
  return named !== undefined ? named.getText(source) : ts.SyntaxKind[node.kind];
}

/**
 * Every `@example` of the TSDoc in `lib/`, as a code block the snippet checker compiles like a docs block: its text
 * is the code (a fenced example is unwrapped), its line the tag's line in the source file.
 */
export function tsdocExamples(root = ROOT): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  for (const file of filesUnder(join(root, 'lib'))) {
    const text = readFileSync(file, 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const seen = new Set<number>();
    const visit = (node: ts.Node): void => {
      for (const tag of ts.getJSDocTags(node)) {
        if (tag.tagName.text !== 'example' || seen.has(tag.pos)) continue;
        seen.add(tag.pos);
        const raw = ts.getTextOfJSDocComment(tag.comment) ?? '';
        const code = raw.replace(/^\s*```\w*\n/, '').replace(/\n```\s*$/, '');
        const line = source.getLineAndCharacterOfPosition(tag.getStart(source)).line + 1;
        const where = relative(root, file);
        blocks.push({
          file: where,
          line,
          endLine: line + code.split('\n').length,
          lang: 'ts',
          code,
          section: `@example of ${nameOf(node, source)}`,
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return blocks;
}
