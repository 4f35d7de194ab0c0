'use strict';

// `npm run bench`: builds the package, then loads each variant's server (its own process) with autocannon from
// this process, in interleaved rounds; then the refresh storm and the soak. Prints the tables and writes
// bench/RESULTS.md. Options: --rounds N (8), --duration S (2), --connections N (50), --soak-requests N (200000),
// --no-build, --no-write, --skip-storm, --skip-soak, --no-pin, --only A,B,E (those variants and their baselines; implies
// --no-write, for quick checks while working on the hot path).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { pinToCpu, ServerProcess } = require('./lib/child');
const { load } = require('./lib/load');
const { fmt, markdownTable, median, textTable } = require('./lib/stats');
const { runSoak } = require('./soak');
const { runStorm, TOKEN_LATENCY_MS } = require('./storm');
const { ALL_VARIANTS, ROOT, git, parseOptions, selectVariants, signIn, version } = require('./lib/variants');

/** The variants of this run: all of them unless `--only` says otherwise. */
let VARIANTS = ALL_VARIANTS;

/** The load generator (this process) runs on CPU 0, every server on CPU 1. */
const RUNNER_CPU = 0;
const SERVER_CPU = 1;

function parseArgs(argv) {
  return parseOptions(
    argv,
    {
      rounds: 8,
      duration: 2,
      connections: 50,
      soakRequests: 200_000,
      build: true,
      write: true,
      storm: true,
      soak: true,
      pin: true,
    },
    {
      '--rounds': 'rounds',
      '--duration': 'duration',
      '--connections': 'connections',
      '--soak-requests': 'soakRequests',
    },
    {
      '--no-build': ['build', false],
      '--no-write': ['write', false],
      '--skip-storm': ['storm', false],
      '--skip-soak': ['soak', false],
      '--no-pin': ['pin', false],
    },
  );
}

function build() {
  console.log('> npm run build');
  try {
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  } catch {
    throw new Error(
      'npm run build failed: the bench loads express-wps-oauth from dist/, as users do; fix the build first',
    );
  }
}

function checkDist() {
  try {
    require.resolve('express-wps-oauth');
    require.resolve('express-wps-oauth/testing');
  } catch {
    throw new Error('dist/ is missing or incomplete: run `npm run build` (or drop --no-build)');
  }
}

/** One timed run against one server: autocannon's numbers plus the server's CPU time per request. */
async function measure(server, cookie, opts) {
  const before = await server.call('cpu');
  const r = await load({
    url: `${server.origin}/api`,
    connections: opts.connections,
    duration: opts.duration,
    headers: { cookie },
  });
  const after = await server.call('cpu');
  const cpuUs = after.user - before.user + (after.system - before.system);
  return { ...r, cpuPerReq: cpuUs / r.total };
}

async function hotPath(servers, opts) {
  const { rounds, duration, connections } = opts;
  console.log(`\nWarm-up: 2 s per server`);
  for (const v of VARIANTS) {
    const { server, cookie } = servers.get(v.key);
    await load({ url: `${server.origin}/api`, connections, duration: 2, headers: { cookie } });
  }
  /** @type {Array<Map<string, { rps: number, p99: number, bad: number }>>} */
  const byRound = [];
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs first or right after the same neighbour.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    const results = new Map();
    for (const v of order) {
      const { server, cookie } = servers.get(v.key);
      results.set(v.key, await measure(server, cookie, { connections, duration }));
    }
    byRound.push(results);
    const base = results.get('baseline');
    console.log(
      `round ${round + 1}/${rounds} (req/s, × baseline by req/s | by CPU): ` +
        VARIANTS.map((v) => {
          const r = results.get(v.key);
          return `${v.id} ${fmt.int(r.rps)} ${fmt.ratio(r.rps / base.rps)}|${fmt.ratio(base.cpuPerReq / r.cpuPerReq)}`;
        }).join('  '),
    );
  }
  return byRound;
}

/**
 * Per variant, medians over rounds. Ratios are taken within each round, then the median: `ratio` by requests/s;
 * `cpuRatio` = the baseline's server CPU per request ÷ this variant's (above 1: cheaper than the baseline), which
 * other work on a shared machine disturbs far less than throughput.
 */
function summarizeHotPath(byRound) {
  return VARIANTS.map((v) => {
    const own = byRound.map((r) => r.get(v.key));
    const ratios = byRound.map((r) => r.get(v.key).rps / r.get('baseline').rps);
    const cpuRatios = byRound.map((r) => r.get('baseline').cpuPerReq / r.get(v.key).cpuPerReq);
    return {
      variant: v,
      rps: median(own.map((r) => r.rps)),
      p99: median(own.map((r) => r.p99)),
      cpuPerReq: median(own.map((r) => r.cpuPerReq)),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      sameExpress: median(byRound.map((r) => r.get(v.key).rps / r.get(v.base).rps)),
      cpuRatio: median(cpuRatios),
      cpuRatioMin: Math.min(...cpuRatios),
      cpuRatioMax: Math.max(...cpuRatios),
      cpuSameExpress: median(byRound.map((r) => r.get(v.base).cpuPerReq / r.get(v.key).cpuPerReq)),
      bad: own.reduce((n, r) => n + r.bad, 0),
    };
  });
}

function hotPathTable(summary) {
  const header = [
    '',
    'Variant',
    'req/s',
    'p99',
    'req/s × baseline (range)',
    'server CPU µs/req',
    'CPU × baseline (range)',
    '× same-Express baseline: req/s, CPU',
    'non-2xx',
  ];
  const rows = summary.map((s) => [
    s.variant.id,
    s.variant.label,
    fmt.int(s.rps),
    fmt.ms(s.p99),
    `${fmt.ratio(s.ratio)} (${fmt.ratio(s.ratioMin)}–${fmt.ratio(s.ratioMax)})`,
    s.cpuPerReq.toFixed(0),
    `${fmt.ratio(s.cpuRatio)} (${fmt.ratio(s.cpuRatioMin)}–${fmt.ratio(s.cpuRatioMax)})`,
    `${fmt.ratio(s.sameExpress)}, ${fmt.ratio(s.cpuSameExpress)}`,
    String(s.bad),
  ]);
  return { header, rows };
}

function roundsTable(byRound) {
  const header = ['Round', ...VARIANTS.map((v) => v.id)];
  const rows = byRound.map((r, i) => [
    String(i + 1),
    ...VARIANTS.map((v) => {
      const x = r.get(v.key);
      const base = r.get('baseline');
      return `${fmt.int(x.rps)} · ${fmt.ratio(x.rps / base.rps)} · ${fmt.ratio(base.cpuPerReq / x.cpuPerReq)}`;
    }),
  ]);
  return { header, rows };
}

function targets(summary, storm, soak) {
  const get = (key) => summary.find((s) => s.variant.key === key);
  const check = (ok) => (ok ? 'met' : '**missed**');
  const lines = [];
  if (summary.length === ALL_VARIANTS.length) {
    const ours = get('ours');
    const ours5 = get('ours5');
    const pair = (x) => `req/s ${fmt.ratio(x.ratio)}, CPU ${fmt.ratio(x.cpuRatio)}`;
    const pair5 = (x) => `req/s ${fmt.ratio(x.sameExpress)}, CPU ${fmt.ratio(x.cpuSameExpress)}`;
    const both = (a, b) => `${check(a)} by req/s, ${check(b)} by CPU`;
    lines.push(
      `- ours / baseline ≥ 0.97, Express 4: ${pair(ours)} — ${both(ours.ratio >= 0.97, ours.cpuRatio >= 0.97)}`,
    );
    const sized = get('sized');
    lines.push(
      `  (the same session data without any auth, A2: ${pair(sized)} — the most any library keeping these tokens in ` +
        'express-session could reach)',
    );
    lines.push(
      `- ours / baseline ≥ 0.97, Express 5 (against the Express 5 baseline): ${pair5(ours5)} — ` +
        both(ours5.sameExpress >= 0.97, ours5.cpuSameExpress >= 0.97),
    );
    const passport = get('passport');
    lines.push(
      `- ours ahead of passport: ours ${pair(ours)}; passport ${pair(passport)} — ` +
        both(ours.ratio > passport.ratio, ours.cpuRatio > passport.cpuRatio),
    );
    for (const key of ['eoc', 'eoc-cookie']) {
      const eoc = get(key);
      lines.push(
        `- ours ahead of ${eoc.variant.label}: ${pair(eoc)} — ${both(ours.ratio > eoc.ratio, ours.cpuRatio > eoc.cpuRatio)}`,
      );
    }
  }
  if (storm !== undefined) {
    const calls = storm.map((r) => r.storm.refreshCalls);
    const p99 = median(storm.map((r) => r.storm.p99));
    const floor = median(storm.map((r) => r.floor.p99));
    lines.push(`- storm, refresh calls = 1 in every run: ${calls.join(', ')} — ${check(calls.every((c) => c === 1))}`);
    lines.push(
      `- storm p99 ≤ token latency + 50 ms (${TOKEN_LATENCY_MS + 50} ms): ${fmt.ms(p99)} — ${check(p99 <= TOKEN_LATENCY_MS + 50)}; ` +
        `against this machine's floor for the same burst without a refresh (p99 ${fmt.ms(floor)}): ` +
        `${fmt.ms(p99 - floor)} over the floor — ${check(p99 - floor <= TOKEN_LATENCY_MS + 50)}`,
    );
  }
  if (soak !== undefined) {
    lines.push(
      `- soak heap within 5%: ${fmt.pct(soak.growthPct)} — ${check(Math.abs(soak.growthPct) <= 5 && !soak.stoppedEarly)}`,
    );
  }
  return lines;
}

function stormTable(storm) {
  const header = [
    'Run',
    'refresh calls',
    '200s',
    'p50',
    'p99',
    'max',
    'server-side p50 / p99',
    'floor p50 / p99 (same burst, fresh token)',
  ];
  const rows = storm.map((r, i) => [
    String(i + 1),
    String(r.storm.refreshCalls),
    `${r.storm.ok}/${r.storm.total}`,
    fmt.ms(r.storm.p50),
    fmt.ms(r.storm.p99),
    fmt.ms(r.storm.max),
    `${fmt.ms(r.storm.serverP50)} / ${fmt.ms(r.storm.serverP99)}`,
    `${fmt.ms(r.floor.p50)} / ${fmt.ms(r.floor.p99)}`,
  ]);
  return { header, rows };
}

function soakTable(soak) {
  const header = [
    'requests',
    'sessions',
    'refresh calls',
    'req/s',
    'non-2xx/errors',
    'heap after warm-up',
    'heap at end',
    'change',
  ];
  const rows = [
    [
      `${fmt.int(soak.requests)}${soak.stoppedEarly ? ' (stopped at the time budget)' : ''}`,
      String(soak.sessions),
      String(soak.refreshCalls),
      fmt.int(soak.rps),
      String(soak.bad),
      fmt.mb(soak.heapAfterWarmup),
      fmt.mb(soak.heapAtEnd),
      fmt.pct(soak.growthPct),
    ],
  ];
  return { header, rows };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

function writeResults(file, ctx) {
  const { opts, summary, byRound, storm, soak, startedAt, elapsedS, loadStart, loadEnd, command } = ctx;
  const m = machine();
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'lib']);
  const versions = [
    [
      'express-wps-oauth',
      `${pkg.version} (commit ${commit ?? 'unknown'}${dirty ? ', with uncommitted changes in lib/' : ''})`,
    ],
    ...[
      'express',
      'express5',
      'express-session',
      'passport',
      'express-openid-connect',
      'oidc-provider',
      'autocannon',
    ].map((p) => [p, version(p)]),
  ];
  const md = [];
  md.push('# Benchmark results', '');
  md.push(
    `Written by \`${command}\` on ${startedAt.toISOString()} (took ${Math.round(elapsedS)} s). Compare **ratios**, not`,
  );
  md.push(
    'absolute numbers: the machine is shared and noisy, so every variant is divided by the baseline measured in the same',
  );
  md.push('round, seconds apart.', '');
  md.push('## Machine', '');
  md.push(`- CPU: ${m.cpu}, ${m.cores} cores`);
  md.push(`- Node.js ${m.node}, ${m.os}`);
  md.push(
    `- Load average (1 min) at start / end: ${loadStart.toFixed(2)} / ${loadEnd.toFixed(2)} (other work was running)`,
    '',
  );
  md.push('## Versions', '');
  md.push(markdownTable(['Package', 'Version'], versions), '');
  md.push('## Method', '');
  md.push(
    '- Each variant is an Express app in its own process on 127.0.0.1, with express-session and its MemoryStore,',
  );
  md.push(
    '  one signed-in session, and `GET /api` answering `{"ok":true}`. The session is made by each library\'s real',
  );
  md.push(
    '  sign-in: ours through `/auth/wps/login` → the fake WPS (`express-wps-oauth/testing`, same process, idle under',
  );
  md.push('  load) → `/auth/wps/callback`; passport through `req.login()`; express-openid-connect through the');
  md.push(
    '  authorization-code flow against a local `oidc-provider`. Before loading, the runner checks that the session',
  );
  md.push('  gets 200 and that a request without it does not.');
  md.push('- express-openid-connect keeps its own session (not express-session): D gives it a MemoryStore through its');
  md.push('  `session.store` option, like the others; D2 is its default encrypted-cookie session.');
  md.push(`- Load: autocannon (programmatic, in the runner process), ${opts.connections} connections, no pipelining,`);
  md.push(
    `  ${opts.duration} s per variant per round after a 2 s warm-up each; ${opts.rounds} rounds, each visiting every`,
  );
  md.push(
    '  variant once, in an order rotated every round. Medians over rounds; ratios are per round, then the median.',
  );
  md.push(
    opts.pinned
      ? '- CPUs: the runner (autocannon) is pinned to CPU 0 and every server to CPU 1 (`taskset`), so the load generator'
      : '- CPUs: not pinned (no `taskset`, a single CPU, or `--no-pin`): the load generator and the server share the cores',
  );
  md.push(opts.pinned ? '  and the server under load never take turns on one core.' : '  and take turns on them.');
  md.push("- Two ratios to the baseline of the same round: by requests/s, and by the server process's CPU time per");
  md.push(
    '  request (`process.cpuUsage()` before and after the run ÷ requests served; shown as baseline CPU ÷ variant CPU,',
  );
  md.push(
    '  so both read "1.0 = as fast as no auth, higher is faster"). Both swing with whatever else the two shared cores',
  );
  md.push(
    '  run — see the ranges: single rounds move by 10–30%, so differences under about 0.1 between medians are noise.',
  );
  md.push('  `node bench/profile.js` splits the per-request CPU by package and function, which is steadier.', '');
  if (summary.length > 0) {
    md.push('## Hot path: fresh token', '');
    const t = hotPathTable(summary);
    md.push(markdownTable(t.header, t.rows), '');
  }
  md.push('## Targets', '');
  md.push(...targets(summary, storm, soak), '');
  if (byRound.length > 0) {
    md.push('### Every round: req/s · × baseline by req/s · × baseline by CPU', '');
    const t = roundsTable(byRound);
    md.push(markdownTable(t.header, t.rows), '');
  }
  if (storm !== undefined) {
    md.push('## Refresh storm', '');
    md.push(`500 simultaneous requests (already-open keep-alive sockets) on one session whose access token has just`);
    md.push(
      `expired (\`refreshSkewSeconds: 0\`), fake WPS answering token calls in ${TOKEN_LATENCY_MS} ms. Latency as the client saw it;`,
    );
    md.push(
      '"server-side" is from the request reaching the route to its response finishing. The floor is the same burst on',
    );
    md.push(
      'the same session right after, when the token is fresh: the cost of 500 simultaneous requests on this machine.',
      '',
    );
    const t = stormTable(storm);
    md.push(markdownTable(t.header, t.rows), '');
  }
  if (soak !== undefined) {
    md.push('## Soak', '');
    md.push(
      `Requests through \`requireWpsToken\` over ${soak.sessions} signed-in sessions; every ${soak.every}th request finds its`,
    );
    md.push(
      "session's token expired (a bench-only middleware sets `expiresAt` in the past) and refreshes it through the fake",
    );
    md.push(
      "WPS. Heap is `heapUsed` after `global.gc()` (server run with `--expose-gc`); the fake's request log is emptied",
    );
    md.push('before each measurement (bench bookkeeping, not the library).', '');
    const t = soakTable(soak);
    md.push(markdownTable(t.header, t.rows), '');
    md.push(
      `Heap along the way (requests after warm-up: MB): ${soak.checkpoints
        .map((c) => `${fmt.int(c.requests)}: ${(c.heapUsed / 1024 / 1024).toFixed(2)}`)
        .join(' · ')}`,
      '',
    );
  }
  md.push('## Reproduce', '');
  md.push(
    '```sh',
    'npm run bench            # builds dist/, then everything above, under 5 minutes',
    'node bench/profile.js    # CPU profile of the hot path (ours vs baseline)',
    '```',
    '',
  );
  fs.writeFileSync(file, md.join('\n'));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  VARIANTS = selectVariants(opts.only);
  opts.pinned = opts.pin && pinToCpu(process.pid, RUNNER_CPU);
  const startedAt = new Date();
  const t0 = performance.now();
  const loadStart = os.loadavg()[0];
  if (opts.build) build();
  checkDist();

  // Start every server now, while dist/ is as just built: they load the package once, at start.
  const servers = new Map();
  let stormServer;
  let soakServer;
  try {
    for (const v of VARIANTS) {
      const server = await ServerProcess.start(v.script, v.args, { cpu: opts.pin ? SERVER_CPU : undefined });
      servers.set(v.key, { server, cookie: undefined });
    }
    const cpu = opts.pin ? SERVER_CPU : undefined;
    if (opts.storm) stormServer = await ServerProcess.start('storm.js', [], { cpu });
    if (opts.soak) soakServer = await ServerProcess.start('soak.js', ['1000'], { execArgv: ['--expose-gc'], cpu });
    for (const v of VARIANTS) {
      const entry = servers.get(v.key);
      entry.cookie = await signIn(v, entry.server);
    }
    const m = machine();
    console.log(`\n${m.cpu}, ${m.cores} cores, Node ${m.node}; load average ${loadStart.toFixed(2)}`);
    for (const v of VARIANTS) console.log(`  ${v.id.padEnd(2)} ${v.label}`);

    const byRound = await hotPath(servers, opts);
    await Promise.all([...servers.values()].map((s) => s.server.stop()));
    servers.clear();
    const summary = summarizeHotPath(byRound);
    const hot = hotPathTable(summary);
    console.log(
      `\nHot path, fresh token (${opts.rounds} rounds × ${opts.duration} s, ${opts.connections} connections; medians):\n`,
    );
    console.log(textTable(hot.header, hot.rows));

    let storm;
    if (stormServer !== undefined) {
      console.log('\nRefresh storm: 500 simultaneous requests, token just expired, WPS token latency 100 ms');
      storm = await runStorm({ server: stormServer, runs: 3 });
      const t = stormTable(storm);
      console.log(textTable(t.header, t.rows));
    }
    let soak;
    if (soakServer !== undefined) {
      console.log(`\nSoak: ${fmt.int(opts.soakRequests)} requests, a refresh every 1,000`);
      // `npm run bench` must end within 5 minutes even on a busy machine: the soak gets what is left of 4.5.
      const left = 270_000 - (performance.now() - t0);
      soak = await runSoak({
        server: soakServer,
        requests: opts.soakRequests,
        budgetMs: Math.max(20_000, Math.min(90_000, left)),
      });
      const t = soakTable(soak);
      console.log(textTable(t.header, t.rows));
    }

    console.log('\nTargets:');
    const lines = targets(summary, storm, soak);
    for (const line of lines) console.log(line.replace(/\*\*/g, ''));
    const elapsedS = (performance.now() - t0) / 1000;
    console.log(`\nDone in ${Math.round(elapsedS)} s.`);
    if (opts.write) {
      const args = process.argv.slice(2);
      const command = args.length === 0 ? 'npm run bench' : `npm run bench -- ${args.join(' ')}`;
      const file = path.join(__dirname, 'RESULTS.md');
      writeResults(file, {
        opts,
        summary,
        byRound,
        storm,
        soak,
        startedAt,
        elapsedS,
        loadStart,
        loadEnd: os.loadavg()[0],
        command,
      });
      console.log(`Wrote ${path.relative(process.cwd(), file)}`);
    }
    const bad = summary.filter((s) => s.bad > 0).map((s) => s.variant.id);
    if (bad.length > 0 || (soak !== undefined && soak.bad > 0)) {
      throw new Error(
        `non-2xx answers or errors under load (${bad.join(', ') || 'soak'}): these numbers do not measure the hot path`,
      );
    }
  } finally {
    await Promise.all([...servers.values()].map((s) => s.server.stop()));
    if (stormServer !== undefined) await stormServer.stop();
    if (soakServer !== undefined) await soakServer.stop();
  }
}

main().catch((err) => {
  console.error(`\nbench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
