'use strict';
// The longest functions in lib/ (every function, method and arrow function, signature to closing brace), longest
// first: `node scripts/longest-functions.js [how many, default 10]`. __tests__/docs/function-length.test.ts keeps
// each at 60 lines or fewer.
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const LIB = path.join(__dirname, '..', 'lib');

function filesUnder(dir) {
  return fs.readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (fs.statSync(full).isDirectory()) return filesUnder(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

const found = [];
for (const file of filesUnder(LIB)) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const name = node.name ? node.name.getText(source) : `(anonymous, line ${start + 1})`;
      found.push({ lines: end - start + 1, where: `${path.relative(LIB, file)}: ${name}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}
found.sort((a, b) => b.lines - a.lines);
for (const { lines, where } of found.slice(0, Number(process.argv[2] ?? 10))) console.log(`${lines}\t${where}`);
