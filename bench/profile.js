'use strict';

// CPU profile of the hot path: the baseline, the baseline with a session as big as ours, and our Express 4 server,
// each under the same autocannon load with `node --cpu-prof`; then where the time went per request, by package and
// by function in express-wps-oauth and express-session. Run after `npm run build`:
// node bench/profile.js [--slices N] [--keep]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ServerProcess } = require('./lib/child');
const { load } = require('./lib/load');
const { fmt, textTable } = require('./lib/stats');

const DIST = `${path.join(__dirname, '..', 'dist')}${path.sep}`;
const SERVERS = [
  { key: 'baseline', label: 'baseline', script: 'baseline.js', args: ['express'] },
  { key: 'sized', label: 'baseline, ours-sized session', script: 'baseline.js', args: ['express', 'sized'] },
  { key: 'ours', label: 'express-wps-oauth', script: 'ours.js', args: ['express'] },
];

function packageOf(frame) {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : 'node core';
  if (url.startsWith('node:')) return 'node core';
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = file.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (file.startsWith(`${DIST}testing${path.sep}`)) return 'express-wps-oauth/testing';
  if (file.startsWith(DIST)) return 'express-wps-oauth';
  return 'bench harness';
}

/** Self time per node id, in µs (each sample owns the time until the next one). */
function selfTimes(profile) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  return self;
}

/**
 * Busy time, by package and by function: each sample goes to the innermost frame that belongs to a package, so
 * Node internals (JSON.parse, defineProperty, …) count for the package that called them.
 */
function analyze(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byPackage = new Map();
  const byFunction = new Map();
  const byLine = new Map();
  let busy = 0;
  for (const [id, us] of selfTimes(profile)) {
    const leaf = nodes.get(id);
    if (leaf.callFrame.functionName === '(idle)') continue;
    busy += us;
    if (packageOf(leaf.callFrame) === 'express-wps-oauth' && leaf.positionTicks !== undefined) {
      // Spread this frame's own time over its source lines, as the profiler's line ticks say.
      const ticks = leaf.positionTicks.reduce((n, t) => n + t.ticks, 0);
      for (const t of leaf.positionTicks) {
        const key = `${leaf.callFrame.url}:${t.line}`;
        byLine.set(key, (byLine.get(key) ?? 0) + (us * t.ticks) / ticks);
      }
    }
    let owner = packageOf(leaf.callFrame);
    let frame = leaf;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const p = packageOf(nodes.get(cur).callFrame);
      if (p !== 'node core' && p !== '(root)') {
        owner = p;
        frame = nodes.get(cur);
        break;
      }
    }
    byPackage.set(owner, (byPackage.get(owner) ?? 0) + us);
    const f = frame.callFrame;
    const key = `${owner}\t${f.functionName || '(anonymous)'} (${path.basename(f.url)}:${f.lineNumber + 1})`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  return { busy, byPackage, byFunction, byLine };
}

/** `file:line` → that line of the built file, trimmed, for the hot-lines table. */
function sourceLine(key) {
  const at = key.lastIndexOf(':');
  const url = key.slice(0, at);
  const file = url.startsWith('file://') ? new URL(url).pathname : url;
  try {
    const text = fs.readFileSync(file, 'utf8').split('\n')[Number(key.slice(at + 1)) - 1] ?? '';
    return `${path.basename(file)}:${key.slice(at + 1)}  ${text.trim().slice(0, 90)}`;
  } catch {
    return key;
  }
}

function startProfiled(spec, dir) {
  return ServerProcess.start(spec.script, spec.args, {
    execArgv: [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${spec.key}.cpuprofile`,
      '--cpu-prof-interval=100',
    ],
  });
}

/**
 * Load the servers in interleaved slices (A B C A B C …) so the machine's noise falls on all of them alike, stop
 * them (each writes its profile on exit) and analyze the profiles; idle time does not count.
 */
async function profileAll(specs, servers, dir, sliceSeconds, slices) {
  const targets = [];
  for (const server of servers) {
    const cookie = await server.call('login');
    targets.push({ url: `${server.origin}/api`, headers: { cookie }, requests: 0 });
  }
  for (const t of targets) t.requests += (await load({ ...t, connections: 50, duration: 2 })).total;
  for (let slice = 0; slice < slices; slice++) {
    for (const [i, t] of targets.entries()) {
      const run = await load({ url: t.url, headers: t.headers, connections: 50, duration: sliceSeconds });
      if (run.bad > 0) throw new Error(`${specs[i].key}: non-2xx answers under load`);
      t.requests += run.total;
    }
  }
  await Promise.all(servers.map((server) => server.stop()));
  const results = {};
  for (const [i, spec] of specs.entries()) {
    const profile = JSON.parse(fs.readFileSync(path.join(dir, `${spec.key}.cpuprofile`), 'utf8'));
    results[spec.key] = { ...analyze(profile), requests: targets[i].requests };
  }
  return results;
}

/** Rows of µs per request, one column per profiled server, for the keys `pick` selects; small ones folded. */
function compare(specs, results, keysOf, pick, minUs) {
  const keys = new Set(specs.flatMap((spec) => [...keysOf(results[spec.key]).keys()]));
  const rows = [];
  const rest = specs.map(() => 0);
  for (const key of keys) {
    if (!pick(key)) continue;
    const cells = specs.map((spec) => (keysOf(results[spec.key]).get(key) ?? 0) / results[spec.key].requests);
    if (Math.max(...cells) >= minUs) rows.push([key.split('\t').pop(), ...cells]);
    else cells.forEach((c, i) => (rest[i] += c));
  }
  rows.sort((a, b) => b[b.length - 1] - a[a.length - 1]);
  if (rest.some((c) => c > 0)) rows.push([`(the rest, each < ${minUs} µs)`, ...rest]);
  return rows.map(([name, ...cells]) => [name, ...cells.map((c) => c.toFixed(2))]);
}

/** Profile `specs` (default: baseline, baseline with an ours-sized session, ours) and print the comparison. */
async function main(specs = SERVERS) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--slices');
  const slices = at >= 0 ? Number(args[at + 1]) : 4;
  const keep = args.includes('--keep');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wps-bench-profile-'));
  const servers = [];
  try {
    // Start all first, so they all load the same dist/.
    for (const spec of specs) servers.push(await startProfiled(spec, dir));
    const results = await profileAll(specs, servers, dir, 2.5, slices);
    const header = (first) => [first, ...specs.map((s) => `${s.label} µs/req`)];

    console.log(
      `\nCPU µs per request, by package (requests: ${specs.map((s) => `${s.key} ${fmt.int(results[s.key].requests)}`).join(', ')}):\n`,
    );
    const pkgRows = compare(
      specs,
      results,
      (r) => r.byPackage,
      () => true,
      0.5,
    );
    pkgRows.push(['total busy', ...specs.map((s) => (results[s.key].busy / results[s.key].requests).toFixed(2))]);
    console.log(textTable(header('package'), pkgRows));

    for (const pkg of ['express-wps-oauth', 'express-session']) {
      console.log(`\n${pkg}, by function (self time plus the Node internals it calls):\n`);
      console.log(
        textTable(
          header('function'),
          compare(
            specs,
            results,
            (r) => r.byFunction,
            (k) => k.startsWith(`${pkg}\t`),
            0.05,
          ),
        ),
      );
    }
    const ours = results.ours;
    if (ours !== undefined && ours.byLine.size > 0) {
      console.log('\nexpress-wps-oauth hot lines (own time of the line, in dist/):\n');
      const lines = [...ours.byLine]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 12)
        .map(([key, us]) => [sourceLine(key), (us / ours.requests).toFixed(2)]);
      console.log(textTable(['line', 'µs/req'], lines));
    }
    if (keep) console.log(`\nProfiles kept in ${dir} (open them in Chrome DevTools)`);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { main, analyze };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
