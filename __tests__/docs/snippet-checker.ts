import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';
import type { CodeBlock, MarkdownDoc } from './markdown';

/**
 * Type-checks the TypeScript and JavaScript blocks of the docs as a user's project would: each block is its own
 * module in a consumer project whose `node_modules/express-wps-oauth` holds declarations freshly built from `lib/`
 * (resolved through the package's real `exports`), and whose other dependencies are this repository's.
 */

export const ROOT = join(__dirname, '..', '..');

/** Fence languages that are compiled; blocks in any other language are documentation only. */
const CHECKED: Record<string, 'ts' | 'js'> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js' };

export function isChecked(block: CodeBlock): boolean {
  return Object.hasOwn(CHECKED, block.lang);
}

/** README.md, README.zh-CN.md, CONTRIBUTING.md and docs/**\/*.md but docs/api/, relative to the repository. */
export function documentationFiles(root = ROOT): string[] {
  const files = ['README.md', 'README.zh-CN.md', 'CONTRIBUTING.md'].filter((f) => existsSync(join(root, f)));
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir))
      .sort()
      .flatMap((name) => {
        const path = `${dir}/${name}`;
        if (path === 'docs/api') return [];
        if (statSync(join(root, path)).isDirectory()) return walk(path);
        return name.endsWith('.md') ? [path] : [];
      });
  return existsSync(join(root, 'docs')) ? [...files, ...walk('docs')] : files;
}

/** The compiler options every snippet is checked with: what a careful user's tsconfig would say. */
export const SNIPPET_OPTIONS: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  moduleDetection: ts.ModuleDetectionKind.Force,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  types: ['node', 'jest'],
  esModuleInterop: true,
  allowJs: true,
  checkJs: true,
  noEmit: true,
  skipLibCheck: true,
  forceConsistentCasingInFileNames: true,
};

function describeDiagnostics(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  });
}

/**
 * Builds the declarations of `lib/` (tsconfig.build.json, declarations only) into `<consumerDir>/node_modules/
 * express-wps-oauth/dist`, next to a package.json with this package's name, `main`, `types` and `exports`.
 */
export function buildPackage(consumerDir: string, root = ROOT): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const packageDir = join(consumerDir, 'node_modules', String(pkg['name']));
  let unreadable: ts.Diagnostic | undefined;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.build.json'),
    {
      outDir: join(packageDir, 'dist'),
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      declarationMap: false,
      sourceMap: false,
    },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => (unreadable = d) },
  );
  if (!parsed) throw new Error(`tsconfig.build.json: ${unreadable ? describeDiagnostics([unreadable]) : 'unreadable'}`);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const emitted = program.emit();
  const errors = [...parsed.errors, ...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter(
    (d) => d.category === ts.DiagnosticCategory.Error,
  );
  if (errors.length > 0 || emitted.emitSkipped) {
    throw new Error(`building the declarations of lib/ failed:\n${describeDiagnostics(errors)}`);
  }
  const { name, version, type, main, types, exports } = pkg;
  writeFileSync(join(packageDir, 'package.json'), JSON.stringify({ name, version, type, main, types, exports }));
}

/** Whether `code` has ES module syntax (import/export declarations). */
function hasModuleSyntax(file: ts.SourceFile): boolean {
  return file.statements.some(
    (s) =>
      ts.isImportDeclaration(s) ||
      ts.isExportDeclaration(s) ||
      ts.isExportAssignment(s) ||
      (ts.canHaveModifiers(s) && (ts.getModifiers(s) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)),
  );
}

/** Whether `file` awaits outside any function, which only an ES module may do. */
function hasTopLevelAwait(file: ts.SourceFile): boolean {
  const visit = (node: ts.Node): boolean => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return false;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) return true;
    return ts.forEachChild(node, visit) ?? false;
  };
  return ts.forEachChild(file, visit) ?? false;
}

/**
 * The file name a block is compiled as. In this CommonJS package (no `"type": "module"`):
 * - JavaScript is `.js` (CommonJS, `require`) unless it uses import/export, then `.mjs`;
 * - TypeScript is `.ts` (its imports compile to `require`) unless it awaits at the top level, which only an ES
 *   module may do, then `.mts`.
 */
export function snippetFileName(block: CodeBlock): string {
  const kind = CHECKED[block.lang];
  if (!kind) throw new Error(`${block.file}:${block.line}: a \`\`\`${block.lang} block is not compiled`);
  const probe = ts.createSourceFile(`probe.${kind}`, block.code, ts.ScriptTarget.Latest, false);
  const esm = kind === 'js' ? hasModuleSyntax(probe) : hasTopLevelAwait(probe);
  const ext = kind === 'js' ? (esm ? 'mjs' : 'js') : esm ? 'mts' : 'ts';
  return `${block.file.split('/').join('__')}-L${block.line}.${ext}`;
}

/**
 * One `ts.Program` over every block, built once (a consumer project in `workDir`: the built package, a
 * `node_modules` link for everything else, one file per block). Diagnostics are computed per block on demand.
 */
export class SnippetChecker {
  private readonly program: ts.Program;
  private readonly fileOf = new Map<CodeBlock, string>();

  constructor(blocks: readonly CodeBlock[], workDir: string, root = ROOT) {
    const consumer = join(workDir, 'consumer');
    const snippets = join(consumer, 'snippets');
    mkdirSync(snippets, { recursive: true });
    // The consumer's own packages come first (express-wps-oauth); the rest resolve one level up, from the repository.
    symlinkSync(join(root, 'node_modules'), join(workDir, 'node_modules'), 'dir');
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'docs-snippets', private: true }));
    buildPackage(consumer, root);
    for (const block of blocks) {
      const file = join(snippets, snippetFileName(block));
      writeFileSync(file, block.code.endsWith('\n') ? block.code : `${block.code}\n`);
      this.fileOf.set(block, file);
    }
    const host = ts.createCompilerHost(SNIPPET_OPTIONS);
    host.getCurrentDirectory = () => consumer;
    this.program = ts.createProgram({ rootNames: [...this.fileOf.values()], options: SNIPPET_OPTIONS, host });
    const global = [...this.program.getOptionsDiagnostics(), ...this.program.getGlobalDiagnostics()];
    if (global.length > 0) throw new Error(`the snippet compiler options are wrong:\n${describeDiagnostics(global)}`);
  }

  /** The name the block was compiled under, relative to the consumer project (for messages). */
  compiledAs(block: CodeBlock): string {
    const file = this.fileOf.get(block);
    return file ? `snippets/${basename(file)}` : '(not compiled)';
  }

  /** The block's syntax and type errors, positioned in the block. */
  diagnostics(block: CodeBlock): { line: number; code: number; message: string }[] {
    const file = this.fileOf.get(block);
    const source = file === undefined ? undefined : this.program.getSourceFile(file);
    if (!source) throw new Error(`${block.file}:${block.line} was not compiled`);
    return [...this.program.getSyntacticDiagnostics(source), ...this.program.getSemanticDiagnostics(source)].map(
      (d) => ({
        line: d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line + 1,
        code: d.code,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n      '),
      }),
    );
  }

  /** `''` when the block compiles; otherwise every diagnostic with its line in the block and in the Markdown. */
  report(block: CodeBlock): string {
    const found = this.diagnostics(block);
    if (found.length === 0) return '';
    const lines = block.code.split('\n');
    const out = found.map(({ line, code, message }) => {
      const where = line === 0 ? 'block' : `block line ${line} (${block.file}:${block.line + line})`;
      const text = line === 0 ? '' : `\n      | ${(lines[line - 1] ?? '').trim()}`;
      return `  ${where}: TS${code}: ${message}${text}`;
    });
    return (
      `\`\`\`${block.lang} block at ${block.file}:${block.line}${block.section ? ` (${block.section})` : ''}, ` +
      `compiled as ${this.compiledAs(block)}, has ${found.length} error(s):\n${out.join('\n')}`
    );
  }
}

/** What keeps a file's blocks from being checked as written: bad fences and markers, markers on uncompiled blocks. */
export function snippetProblems(doc: MarkdownDoc): string[] {
  const pointless = doc.blocks
    .filter((b) => b.partial !== undefined && !isChecked(b))
    .map((b) => `${b.file}:${b.line - 1}: snippet marker on a \`\`\`${b.lang} block, which is not compiled anyway`);
  return [...doc.problems, ...pointless];
}
