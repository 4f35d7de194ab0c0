'use strict';
/**
 * The published types under every TypeScript a consumer may use: fixtures/types/every-export.ts, a strict consumer
 * that uses every export of `express-wps-oauth` and `express-wps-oauth/testing`, type-checked with `tsc --noEmit`
 * under each TypeScript of TS_VERSIONS and each module setup of SETUPS, in one project installed from the tarball.
 * A last check proves that the file imports every export of both entry points (read from the installed
 * declarations with this repository's TypeScript), so a new export cannot skip these checks.
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');
const { check, exec, limited, npmInstall } = require('./lib/process');

const FIXTURE = path.join(__dirname, 'fixtures', 'types', 'every-export.ts');
/** The TypeScript versions consumers are checked with (5.4 is the oldest supported; 7 is the native compiler). */
const TS_VERSIONS = ['5.4', '5.9', '6.0', '7.0'];
const DEPS = [
  'express@^5',
  'express-session@^1.17',
  'supertest@^7',
  '@types/express@^5',
  '@types/express-session@^1.17',
  '@types/supertest@^7',
  '@types/node@^20',
  ...TS_VERSIONS.map((v) => `typescript-${v}@npm:typescript@~${v}`),
];
const STRICT = {
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noUnusedLocals: true,
  skipLibCheck: false,
  noEmit: true,
  target: 'ES2022',
  lib: ['ES2022'],
  types: ['node'],
  esModuleInterop: true,
};
/** Each module setup is a folder of the project with its own package.json `type` and tsconfig. */
const SETUPS = [
  { name: 'node16-cjs', label: 'node16, CommonJS', type: 'commonjs', module: 'node16', moduleResolution: 'node16' },
  {
    name: 'node16-esm',
    label: 'node16, "type": "module"',
    type: 'module',
    module: 'node16',
    moduleResolution: 'node16',
  },
  { name: 'bundler', label: 'bundler, module esnext', type: 'module', module: 'esnext', moduleResolution: 'bundler' },
];
const ENTRY_POINTS = { 'express-wps-oauth': 'dist/index.d.ts', 'express-wps-oauth/testing': 'dist/testing/index.d.ts' };

async function setUp(dir, tarball) {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer-types', private: true }));
  for (const setup of SETUPS) {
    const sub = path.join(dir, setup.name);
    fs.mkdirSync(sub);
    fs.copyFileSync(FIXTURE, path.join(sub, 'every-export.ts'));
    fs.writeFileSync(path.join(sub, 'package.json'), JSON.stringify({ type: setup.type }));
    const { module, moduleResolution } = setup;
    const tsconfig = { compilerOptions: { ...STRICT, module, moduleResolution }, files: ['every-export.ts'] };
    fs.writeFileSync(path.join(sub, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
  await npmInstall(dir, tarball, DEPS);
}

function tsc(dir, version, args) {
  const bin = path.join(dir, 'node_modules', `typescript-${version}`, 'bin', 'tsc');
  return exec(process.execPath, [bin, ...args], dir, 180_000);
}

/** The names each entry point exports (values and types), from the installed declarations. */
function exportedNames(dir) {
  const pkgDir = path.join(dir, 'node_modules', 'express-wps-oauth');
  const files = Object.values(ENTRY_POINTS).map((f) => path.join(pkgDir, f));
  const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  return Object.fromEntries(
    Object.entries(ENTRY_POINTS).map(([specifier, file]) => {
      const source = program.getSourceFile(path.join(pkgDir, file));
      const symbol = source && checker.getSymbolAtLocation(source);
      check(symbol, `${specifier}: ${file} is not a module`);
      return [specifier, checker.getExportsOfModule(symbol).map((s) => s.name)];
    }),
  );
}

/** The names the fixture imports from each entry point. */
function importedNames() {
  const source = ts.createSourceFile(FIXTURE, fs.readFileSync(FIXTURE, 'utf8'), ts.ScriptTarget.Latest);
  const imported = {};
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    const bindings = statement.importClause?.namedBindings;
    const names =
      bindings && ts.isNamedImports(bindings) ? bindings.elements.map((e) => (e.propertyName ?? e.name).text) : [];
    (imported[statement.moduleSpecifier.text] ??= []).push(...names);
  }
  return imported;
}

function everyExportImported(dir) {
  const exported = exportedNames(dir);
  const imported = importedNames();
  const missing = Object.entries(exported).flatMap(([specifier, names]) =>
    names.filter((n) => !(imported[specifier] ?? []).includes(n)).map((n) => `${n} (from '${specifier}')`),
  );
  check(missing.length === 0, `fixtures/types/every-export.ts does not use: ${missing.join(', ')}`);
  const counts = Object.entries(exported).map(([specifier, names]) => `${names.length} from '${specifier}'`);
  return `imports all ${counts.join(' and ')}`;
}

/** One result per TypeScript version and module setup, and one for the exports. */
async function runTypes(workDir, tarball) {
  const dir = path.join(workDir, 'types');
  const started = Date.now();
  try {
    await setUp(dir, tarball);
  } catch (error) {
    return [{ name: 'types', label: 'installing the types project', ok: false, error, ms: Date.now() - started }];
  }
  const versions = await Promise.all(TS_VERSIONS.map((v) => tsc(dir, v, ['--version']).catch((e) => e.message)));
  const checks = TS_VERSIONS.flatMap((version, i) =>
    SETUPS.map((setup) => async () => {
      const t0 = Date.now();
      const label = `${versions[i].trim()}, ${setup.label}: every export, strict`;
      const result = { name: `ts-${version}`, label, ms: 0 };
      try {
        await tsc(dir, version, ['-p', path.join(setup.name, 'tsconfig.json')]);
        return { ...result, ok: true, ms: Date.now() - t0 };
      } catch (error) {
        return { ...result, ok: false, error, ms: Date.now() - t0 };
      }
    }),
  );
  const results = await limited(checks, 2);
  try {
    results.push({ name: 'exports', label: everyExportImported(dir), ok: true, ms: 0 });
  } catch (error) {
    results.push({ name: 'exports', label: 'every export is used', ok: false, error, ms: 0 });
  }
  return results;
}

module.exports = { runTypes, TS_VERSIONS };
