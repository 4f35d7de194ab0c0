import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { FIRST_JEST_PROJECT } from '../redis/helpers';

// Docs are code: every ```ts block of docs/events.md is a complete file that must compile as an app would write
// it — strict, exactOptionalPropertyTypes, importing 'express-wps-oauth' and 'express-wps-oauth/testing' (mapped
// to lib/ here). Compiling does not depend on the Express major, so this runs in the first Jest project only.

const ROOT = path.resolve(__dirname, '../..');
const DOC = path.join(ROOT, 'docs/events.md');

/** Options an app may compile with: the strictest the README promises to support. */
const APP_OPTIONS: ts.CompilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  types: ['node'],
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  paths: {
    'express-wps-oauth': [path.join(ROOT, 'lib/index.ts')],
    'express-wps-oauth/testing': [path.join(ROOT, 'lib/testing/index.ts')],
  },
};

/** Each ```ts block, with the line it starts on. */
function snippets(markdown: string): { line: number; code: string }[] {
  const found: { line: number; code: string }[] = [];
  const fence = /^```ts\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) {
    found.push({ line: markdown.slice(0, m.index).split('\n').length, code: m[1] ?? '' });
  }
  return found;
}

/**
 * Type errors in `files` (virtual paths under the repository, so that node_modules resolves), by file. Only the
 * snippets are checked: lib/ itself is type-checked by `tsc --noEmit` with the project's own options.
 */
function compile(files: Map<string, string>): Map<string, string[]> {
  const base = ts.createCompilerHost(APP_OPTIONS);
  const host: ts.CompilerHost = {
    ...base,
    fileExists: (name) => files.has(name) || base.fileExists(name),
    readFile: (name) => files.get(name) ?? base.readFile(name),
    getSourceFile: (name, version, ...rest) => {
      const text = files.get(name);
      return text !== undefined ? ts.createSourceFile(name, text, version) : base.getSourceFile(name, version, ...rest);
    },
  };
  const program = ts.createProgram([...files.keys()], APP_OPTIONS, host);
  const errors = new Map<string, string[]>();
  for (const name of files.keys()) {
    const file = program.getSourceFile(name);
    const diagnostics = [
      ...program.getOptionsDiagnostics(),
      ...program.getSyntacticDiagnostics(file),
      ...program.getSemanticDiagnostics(file),
    ];
    errors.set(
      path.basename(name),
      diagnostics.map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
        return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return errors;
}

const EXPLICIT_UNDEFINED = [
  "import { redisEventDedupe, wpsEvents } from 'express-wps-oauth';",
  "import { createClient } from 'redis';",
  'const maybe = <T>(value: T): T | undefined => value;',
  'wpsEvents({',
  '  clientId: maybe("id"), clientSecret: maybe("secret"), on: maybe({}), onEvent: maybe(() => {}),',
  '  maxAgeSeconds: maybe(300), ackTimeoutMs: maybe(2500), maxBodyBytes: maybe(1024), logger: maybe(console),',
  '  dedupe: maybe(redisEventDedupe(createClient(), { prefix: maybe("p:"), commandTimeoutMs: maybe(500) })),',
  '  clock: maybe({ now: () => Date.now() }),',
  '});',
  'export {};',
].join('\n');

const BAD = "import { wpsEvents } from 'express-wps-oauth';\nwpsEvents({ maxAgeSeconds: '300' });\nexport {};\n";

(FIRST_JEST_PROJECT ? describe : describe.skip)('docs/events.md', () => {
  it('has ts blocks that each compile as an app under strict + exactOptionalPropertyTypes', () => {
    const blocks = snippets(readFileSync(DOC, 'utf8'));
    expect(blocks.map((b) => b.line)).toHaveLength(3);
    const files = new Map(
      blocks.map((b) => [path.join(ROOT, `docs/__snippet_line_${b.line}__.ts`), `${b.code}export {};\n`]),
    );
    // Options typed `T | undefined`, as apps under exactOptionalPropertyTypes pass them.
    files.set(path.join(ROOT, 'docs/__explicit_undefined__.ts'), EXPLICIT_UNDEFINED);
    // And proof that a snippet that does not compile is noticed.
    files.set(path.join(ROOT, 'docs/__bad__.ts'), BAD);
    const errors = compile(files);
    expect(errors.get('__bad__.ts')?.join('\n')).toMatch(/^2: .*'string' is not assignable to type 'number'/);
    errors.delete('__bad__.ts');
    expect(Object.fromEntries(errors)).toEqual(Object.fromEntries([...errors.keys()].map((name) => [name, []])));
  });
});
