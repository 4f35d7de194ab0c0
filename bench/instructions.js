'use strict';

// `npm run bench:instructions`: instructions each variant's server executes per request, counted by valgrind's
// callgrind. Unlike req/s on this shared machine, an instruction count does not depend on what else runs, so it
// repeats to about 1%. Each variant runs twice, in two servers (one per core); their difference shows the
// repeatability. Prints the table and writes bench/INSTRUCTIONS.md (not with --only). Run after `npm run build`:
// node bench/instructions.js [--only B,E] [--requests N (800)] [--warmup N (3000)] [--connections N (1)]
// [--no-write] [--keep (the callgrind dumps)]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { ServerProcess } = require('./lib/child');
const { load } = require('./lib/load');
const { fmt, markdownTable, textTable } = require('./lib/stats');
const { ROOT, git, parseOptions, selectVariants, signIn, version } = require('./lib/variants');

/**
 * Callgrind options. Instrumentation starts off (start-up, sign-in and warm-up run several times faster) and is
 * switched on just before measuring; one dump file per thread, so the main thread can be told from V8's helpers.
 * V8's JIT code lives in anonymous mappings, which `--smc-check=all-non-file` (valgrind's default on x86) watches
 * for rewrites.
 */
const CALLGRIND = ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', '--smc-check=all-non-file'];

/**
 * Where V8's garbage collector is entered on the main thread (scavenges, mark-compact pauses, incremental marking
 * steps, lazy sweeping, the marking write barrier). A call into one of these from a function that is not itself
 * GC code counts, with everything below it, as GC.
 */
const GC_ENTRY =
  /^v8::internal::(Heap::(CollectGarbage|CollectAllGarbage|CollectAllAvailableGarbage|FinalizeIncrementalMarkingAtomically|StartIncrementalMarking)\b|IncrementalMarking::|IncrementalMarkingJob::|MinorGCJob::|ScavengeJob::|MarkingBarrier::|Sweeper::|ArrayBufferSweeper::|ConcurrentMarking::|MemoryReducer::)/;
const GC_CODE =
  /^v8::internal::(Heap|Scaveng\w*|\w*MarkCompact\w*|\w*Marking\w*|\w*Sweeper|GCTracer|Evacuat\w*|MemoryReducer)::/;

/** Main-thread instructions a dump right after zeroing may hold (a timer firing); a window holds ~10^9. */
const IDLE_LIMIT = 1_000_000;

/** Quiet: under 5% of one core over a step; waiting for it stops after SETTLE_MAX_MS regardless. */
const SETTLE_STEP_MS = 300;
const SETTLE_MAX_MS = 15_000;

/** The order variants are measured in: the slowest under valgrind first. */
const ORDER = ['D2', 'D', 'C', 'E', 'B', 'A2', 'A3', 'F', 'A'];

function parseArgs(argv) {
  return parseOptions(
    argv,
    { requests: 800, warmup: 3000, connections: 1, write: true, keep: false },
    { '--requests': 'requests', '--warmup': 'warmup', '--connections': 'connections' },
    { '--no-write': ['write', false], '--keep': ['keep', true] },
  );
}

function tool(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function valgrindVersion() {
  try {
    return tool('valgrind', ['--version']);
  } catch (err) {
    throw new Error(
      `valgrind does not run (${err.message.trim()}); Debian/Ubuntu: apt-get install valgrind, which brings callgrind_control`,
      { cause: err },
    );
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One callgrind dump file (one thread): its instruction total, and how many of them were spent in the garbage
 * collector, from the call costs (inclusive) of calls into GC_ENTRY functions from non-GC code. The format is
 * callgrind's, with name compression: `fn=(id) name` once, then `fn=(id)`; a `calls=` line is followed by the
 * line holding the call's inclusive cost.
 */
function parseDump(text) {
  const names = new Map();
  const name = (spec) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (m === null) return spec;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? '';
  };
  let positions = 1;
  let total;
  let gc = 0;
  let fn = '';
  let callee = '';
  let callCost = false;
  for (const line of text.split('\n')) {
    if (callCost) {
      callCost = false;
      const cost = Number(line.split(' ')[positions] ?? 0);
      if (GC_ENTRY.test(callee) && !GC_ENTRY.test(fn) && !GC_CODE.test(fn)) gc += cost;
    } else if (line.startsWith('fn=')) {
      fn = name(line.slice(3));
    } else if (line.startsWith('cfn=')) {
      callee = name(line.slice(4));
    } else if (line.startsWith('calls=')) {
      callCost = true;
    } else if (line.startsWith('positions:')) {
      positions = line.slice(10).trim().split(/\s+/).length;
    } else if (line.startsWith('totals:') || (line.startsWith('summary:') && total === undefined)) {
      total = Number(line.split(':')[1]);
    }
  }
  if (total === undefined || !Number.isFinite(total)) throw new Error('callgrind dump without a totals: line');
  return { total, gc };
}

/** A server under callgrind, with the dumps it writes read back per thread. */
class Counted {
  static async start(variant, run, dir) {
    const out = path.join(dir, `${variant.key}-${run}`);
    const server = await ServerProcess.start(variant.script, variant.args, {
      wrapper: ['valgrind', ...CALLGRIND, `--callgrind-out-file=${out}.%p`],
      timeoutMs: 180_000,
    });
    return new Counted(server, dir, `${path.basename(out)}.${server.child.pid}`);
  }

  constructor(server, dir, prefix) {
    this.server = server;
    this.dir = dir;
    this.prefix = prefix;
    this.seen = new Set();
  }

  control(...args) {
    return tool('callgrind_control', [...args, String(this.server.child.pid)]);
  }

  /** Dump the counters (zeroed by the dump) and read them back: per thread, main thread first. */
  async dump(label) {
    this.control(`--dump=${label}`);
    for (let attempt = 0; ; attempt++) {
      const files = fs
        .readdirSync(this.dir)
        .filter((f) => f.startsWith(`${this.prefix}.`) && !this.seen.has(f))
        .sort((a, b) => Number(a.split('-').pop()) - Number(b.split('-').pop()));
      try {
        const threads = files.map((f) => ({
          thread: Number(f.split('-').pop()),
          ...parseDump(fs.readFileSync(path.join(this.dir, f), 'utf8')),
        }));
        if (threads.length === 0 || threads[0].thread !== 1)
          throw new Error(`no dump of the main thread among ${files.join(', ')}`);
        for (const f of files) this.seen.add(f);
        return { main: threads[0], all: threads.reduce((n, t) => n + t.total, 0), threads: threads.length };
      } catch (err) {
        if (attempt >= 20)
          throw new Error(`${this.server.label}: reading the ${label} dump: ${err.message}`, { cause: err });
        await sleep(250);
      }
    }
  }
}

/**
 * Wait until the idle server's process (all its threads) stops using CPU: V8's helper threads have finished the
 * optimizing compiles the last requests queued. Under valgrind, which runs one thread at a time, they get little
 * CPU while the main thread is busy; left pending, they make the next window slower by a varying amount.
 */
async function settle(server) {
  const cpuMs = async () => {
    const { user, system } = await server.call('cpu', undefined, 60_000);
    return (user + system) / 1000;
  };
  const deadline = performance.now() + SETTLE_MAX_MS;
  let before = await cpuMs();
  for (;;) {
    await sleep(SETTLE_STEP_MS);
    const now = await cpuMs();
    if (now - before < SETTLE_STEP_MS * 0.05 || performance.now() > deadline) return;
    before = now;
  }
}

/**
 * One run of one variant: start its server under callgrind (not counting), sign in, warm up until V8 has optimized
 * the hot path, letting the server settle after each part; switch counting on, check that zeroed counters read ~0,
 * zero, send exactly `requests` requests, dump.
 */
async function measure(variant, run, dir, opts) {
  const counted = await Counted.start(variant, run, dir);
  const { server } = counted;
  try {
    const cookie = await signIn(variant, server, 180_000);
    const target = { url: `${server.origin}/api`, connections: opts.connections, headers: { cookie } };
    // Half, then three tenths, then the rest of the warm-up, each followed by a quiet spell.
    let sent = 0;
    for (const share of [0.5, 0.8, 1]) {
      const amount = Math.round(opts.warmup * share) - sent;
      sent += amount;
      if (amount === 0) continue;
      const r = await load({ ...target, amount });
      if (r.bad > 0) throw new Error(`${variant.label}: ${r.bad} non-2xx answers or errors in the warm-up`);
      await settle(server);
    }
    counted.control('--instr=on');
    counted.control('--zero');
    const idle = await counted.dump('zero-check');
    if (idle.main.total > IDLE_LIMIT) {
      throw new Error(
        `${variant.label}: ${idle.main.total} instructions counted right after zeroing: callgrind_control --zero did not work`,
      );
    }
    counted.control('--zero');
    const r = await load({ ...target, amount: opts.requests });
    const counts = await counted.dump('measure');
    if (r.bad > 0 || r.total !== opts.requests) {
      throw new Error(`${variant.label}: ${r.total} answers to ${opts.requests} requests, ${r.bad} non-2xx or errors`);
    }
    return {
      main: counts.main.total / r.total,
      gc: counts.main.gc / r.total,
      all: counts.all / r.total,
      idleMain: idle.main.total,
    };
  } finally {
    await server.stop();
  }
}

/** The figure compared across variants: main-thread instructions per request outside GC. */
const headline = (x) => x.main - x.gc;
const mean = (a, b) => (a + b) / 2;
const pctDiff = (a, b) => (100 * Math.abs(a - b)) / Math.min(a, b);

/**
 * Per variant, the lower of its two runs: now and then V8 optimizes one server's hot path less well (a few % more
 * instructions, steady within that process), never better, so the lower run is the typical one.
 */
function summarize(variants, results) {
  const cost = (key) => Math.min(...results.get(key).map(headline));
  return variants.map((v) => {
    const [r1, r2] = results.get(v.key);
    return {
      variant: v,
      runs: [headline(r1), headline(r2)],
      cost: cost(v.key),
      diffPct: pctDiff(headline(r1), headline(r2)),
      sameExpress: cost(v.base) / cost(v.key),
      vsA: cost('baseline') / cost(v.key),
      gc: mean(r1.gc, r2.gc),
      main: mean(r1.main, r2.main),
      mainDiffPct: pctDiff(r1.main, r2.main),
      all: mean(r1.all, r2.all),
      allDiffPct: pctDiff(r1.all, r2.all),
      idle: Math.max(r1.idleMain, r2.idleMain),
    };
  });
}

function table(summary) {
  const header = [
    '',
    'Variant',
    'instr/req (main thread, no GC): run 1, run 2',
    'differ',
    '× same-Express baseline',
    '× A',
    'GC instr/req (main)',
    'main thread incl. GC (runs differ)',
    'all threads (runs differ)',
  ];
  const rows = summary.map((s) => [
    s.variant.id,
    s.variant.label,
    `${fmt.int(s.runs[0])}, ${fmt.int(s.runs[1])}`,
    `${s.diffPct.toFixed(2)}%`,
    fmt.ratio(s.sameExpress),
    fmt.ratio(s.vsA),
    fmt.int(s.gc),
    `${fmt.int(s.main)} (${s.mainDiffPct.toFixed(1)}%)`,
    `${fmt.int(s.all)} (${s.allDiffPct.toFixed(1)}%)`,
  ]);
  return { header, rows };
}

/**
 * The headline counts (the lower run) of the INSTRUCTIONS.md about to be replaced, by variant id, and the commit it
 * names: so the new file can say what moved since the last committed measurement.
 */
function previousRun(file) {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, 'utf8');
  const counts = new Map();
  for (const m of text.matchAll(/^\| (\w+) \| [^|]+ \| ([\d,]+), ([\d,]+) \|/gm)) {
    const n = (s) => Number(s.replace(/,/g, ''));
    counts.set(m[1], Math.min(n(m[2]), n(m[3])));
  }
  const commit = /\(commit ([0-9a-f]+)/.exec(text)?.[1];
  return counts.size === 0 ? undefined : { counts, commit };
}

function writeResults(file, ctx) {
  const { opts, summary, startedAt, elapsedS, command, valgrind } = ctx;
  const previous = previousRun(file);
  const cpus = os.cpus();
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const { commit, dirty } = ctx.source;
  const versions = [
    [
      'express-wps-oauth',
      `${pkg.version} (commit ${commit ?? 'unknown'}${dirty ? ', with uncommitted changes in lib/' : ''})`,
    ],
    ...['express', 'express5', 'express-session', 'passport', 'express-openid-connect', 'autocannon'].map((p) => [
      p,
      version(p),
    ]),
  ];
  const t = table(summary);
  const md = [];
  md.push('# Instructions per request', '');
  md.push(`Written by \`${command}\` on ${startedAt.toISOString()} (took ${Math.round(elapsedS)} s).`, '');
  md.push(markdownTable(t.header, t.rows), '');
  md.push("Ratios: the baseline's instructions ÷ the variant's (1.0 = as cheap as no auth; below 1, dearer), on the");
  md.push('headline figure, the lower of the two runs.', '');
  if (previous !== undefined) {
    md.push(`## Since the previous run (commit ${previous.commit ?? 'unknown'})`, '');
    md.push('| | Variant | then | now | change |', '| --- | --- | --- | --- | --- |');
    for (const s of summary) {
      const then = previous.counts.get(s.variant.id);
      if (then === undefined) continue;
      const change = ((s.cost - then) / then) * 100;
      md.push(
        `| ${s.variant.id} | ${s.variant.label} | ${fmt.int(then)} | ${fmt.int(s.cost)} | ${change >= 0 ? '+' : ''}${change.toFixed(2)}% |`,
      );
    }
    md.push('');
  }
  md.push('## Machine and versions', '');
  md.push(
    `- ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores; Node.js ${process.version}, ${os.type()} ${os.release()} ${os.arch()}; ${valgrind}`,
  );
  md.push(`- ${versions.map(([p, v]) => `${p} ${v}`).join(', ')}`, '');
  md.push('## Method', '');
  md.push(
    `- Each server (the same apps as \`npm run bench\`, on 127.0.0.1) runs under \`valgrind ${CALLGRIND.join(' ')}\`,`,
  );
  md.push(
    `  signs in, and gets ${fmt.int(opts.warmup)} warm-up requests (\`GET /api\` with the session cookie, autocannon) in three parts,`,
  );
  md.push(
    "  each followed by a wait until its threads are idle (V8's compile jobs done). Then `callgrind_control --instr=on`,",
  );
  md.push(
    `  \`--zero\`, exactly ${fmt.int(opts.requests)} requests, \`--dump\`: the dump's instructions ÷ ${fmt.int(opts.requests)}. A dump right after zeroing, with`,
  );
  md.push(
    `  no requests, holds at most ${fmt.int(Math.max(...summary.map((s) => s.idle)))} main-thread instructions: the zeroing works.`,
  );
  md.push(
    `- ${opts.connections === 1 ? 'One connection: one request at a time, so each pays one event-loop turn whatever the' : `${opts.connections} connections: how many requests one event-loop turn serves depends on the`}`,
  );
  md.push(
    `  ${opts.connections === 1 ? "machine's speed (with several, how many requests a turn serves depends on timing)." : "machine's speed, which adds noise (`--connections 1` avoids it)."}`,
  );
  md.push(
    "- Headline: the main thread (JavaScript, Node, libuv) minus the garbage collector's share there (calls into",
  );
  md.push("  V8's GC entry points, with all they call), shown apart: a window holds a few GC cycles, and whether a");
  md.push("  mark-compact falls inside moves the total by 1–3%. V8's helper threads (concurrent marking, parallel");
  md.push('  scavenging, optimizing compiles) count in "all threads" only: their share depends on thread scheduling.');
  md.push("- User space only: the kernel's side of socket I/O, the same for every variant, is not counted, so these");
  md.push('  ratios spread wider than CPU-time ratios.');
  md.push(
    '- Two runs per variant, each its own server, the two at once (one per core); the counts do not depend on the',
  );
  md.push(
    "  machine's speed or load. Runs agree to about 1%, except that now and then (a few servers in a hundred) V8",
  );
  md.push(
    "  optimizes one server's hot path less well and it lands 4–6% higher, steadily: hence the lower of the two.",
    '',
  );
  md.push('## Reproduce', '');
  md.push(
    '```sh',
    'npm run bench:instructions                # builds dist/, all variants: 6–10 minutes on 2 shared cores',
    'node bench/instructions.js --only B,E      # those and their baselines',
    '```',
    '',
  );
  fs.writeFileSync(file, md.join('\n'));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const variants = selectVariants(opts.only);
  const valgrind = valgrindVersion();
  const startedAt = new Date();
  // What dist/ was built from (npm run bench:instructions builds it just before): read now, not when writing.
  const source = { commit: git(['rev-parse', '--short', 'HEAD']), dirty: git(['status', '--porcelain', '--', 'lib']) };
  const t0 = performance.now();
  try {
    require.resolve('express-wps-oauth');
  } catch {
    throw new Error('dist/ is missing: run `npm run build` (`npm run bench:instructions` does)');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wps-bench-callgrind-'));
  const results = new Map();
  try {
    console.log(
      `${valgrind}; ${fmt.int(opts.warmup)} warm-up requests, then ${fmt.int(opts.requests)} counted; two runs (servers) per variant`,
    );
    // Two servers at a time, one per core (under valgrind a process runs one thread at a time): the two runs of a
    // variant together, the dearest variants first so that the two workers end at about the same time.
    const jobs = [...variants]
      .sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id))
      .flatMap((v) => [1, 2].map((run) => ({ v, run })));
    const worker = async () => {
      for (let job = jobs.shift(); job !== undefined; job = jobs.shift()) {
        const { v, run } = job;
        const r = await measure(v, run, dir, opts);
        const runs = results.get(v.key) ?? [];
        runs[run - 1] = r;
        results.set(v.key, runs);
        if (runs.filter(Boolean).length < 2) continue;
        const [r1, r2] = runs;
        console.log(
          `${v.id.padEnd(2)} ${fmt.int(headline(r1))} / ${fmt.int(headline(r2))} instr/req (main thread, no GC; ` +
            `GC ${fmt.int(r1.gc)} / ${fmt.int(r2.gc)}; all threads ${fmt.int(r1.all)} / ${fmt.int(r2.all)}), ` +
            `${Math.round((performance.now() - t0) / 1000)} s in`,
        );
      }
    };
    await Promise.all([worker(), worker()]);
    const summary = summarize(variants, results);
    const t = table(summary);
    console.log(`\n${textTable(t.header, t.rows)}`);
    const elapsedS = (performance.now() - t0) / 1000;
    console.log(`\nDone in ${Math.round(elapsedS)} s.`);
    if (opts.write && opts.only === undefined) {
      const args = process.argv.slice(2);
      const command =
        args.length === 0 ? 'npm run bench:instructions' : `npm run bench:instructions -- ${args.join(' ')}`;
      const file = path.join(__dirname, 'INSTRUCTIONS.md');
      writeResults(file, { opts, summary, startedAt, elapsedS, command, valgrind, source });
      console.log(`Wrote ${path.relative(process.cwd(), file)}`);
    }
  } finally {
    if (opts.keep) console.log(`Callgrind dumps kept in ${dir} (callgrind_annotate or KCachegrind read them)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`\nbench:instructions failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
