// TypeDoc names an entry point after its path ("index", "testing"). Readers import the package by its specifier,
// so this plugin names each entry-point module after the `exports` subpath of package.json whose declarations it
// builds: lib/index.ts → `express-wps-oauth`, lib/testing/index.ts → `express-wps-oauth/testing`.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Converter, ReflectionKind } from 'typedoc';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Source file (relative to the repository, `/`-separated) → the specifier users import it by. */
function specifiersBySource() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const names = new Map();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'object' && target !== null ? target.types : undefined;
    const match = typeof types === 'string' ? /^\.\/dist\/(.+)\.d\.ts$/.exec(types) : null;
    if (!match) continue;
    names.set(`lib/${match[1]}.ts`, subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`);
  }
  return names;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  const names = specifiersBySource();
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.find(ts.isSourceFile)?.fileName;
    const name = file === undefined ? undefined : names.get(relative(root, file).split(sep).join('/'));
    if (name !== undefined) reflection.name = name;
  });
}
