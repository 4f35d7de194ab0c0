import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { parseMarkdown } from '../docs/markdown';

// The complete Jest example of docs/testing-your-app.md, run as it is written: its block is taken from the Markdown,
// its two package imports are pointed at lib/ (what the package builds from), and it is compiled to CommonJS and run
// here, so that its beforeAll, afterAll and tests become this suite's. On Express 4 and on Express 5 (the express5
// project maps `express`, and the block's require() is this suite's).

const GUIDE = 'docs/testing-your-app.md';
const SECTION = '### Jest';

const doc = parseMarkdown(readFileSync(join(__dirname, '..', '..', GUIDE), 'utf8'), GUIDE);
const blocks = doc.blocks.filter((b) => b.section === SECTION);
const code = blocks[0]?.code ?? '';

const PACKAGE_IMPORTS: Record<string, string> = {
  "from 'express-wps-oauth';": "from '../../lib';",
  "from 'express-wps-oauth/testing';": "from '../../lib/testing';",
};

function runnable(source: string): string {
  let pointed = source;
  for (const [from, to] of Object.entries(PACKAGE_IMPORTS)) pointed = pointed.split(from).join(to);
  return ts.transpileModule(pointed, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: 'guide-example.ts',
  }).outputText;
}

const registered: string[] = [];

describe(`the complete Jest example of ${GUIDE}`, () => {
  it('is one ts block, importing the package by its two entry points', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['ts']);
    for (const from of Object.keys(PACKAGE_IMPORTS)) expect(code).toContain(from);
  });

  it('registered its two tests, which run below', () => {
    expect(registered).toEqual(['shows the signed-in user', 'refreshes an expired access token through WPS, once']);
  });
});

// The block's tests, registered at collection time like any test of this file; `it` is wrapped to list them.
const countingIt = (name: string, fn: jest.ProvidesCallback, timeout?: number) => {
  registered.push(name);
  it(`guide example: ${name}`, fn, timeout);
};
const guideModule = { exports: {} };
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the guide's code, compiled just above, is the test
const run = new Function('require', 'module', 'exports', 'it', runnable(code)) as (...args: unknown[]) => void;
run(require, guideModule, guideModule.exports, countingIt);
