'use strict';

const { execFileSync, fork } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const SERVERS = path.join(__dirname, '..', 'servers');
const KEEP_OUTPUT = 16 * 1024;
const DIST_MISSING = /Cannot find module '[^']*[/\\]dist[/\\]/;

/**
 * Pin process `pid` to CPU `cpu` with taskset (util-linux), so the load generator and the server under load stop
 * trading places on the same core — the largest source of round-to-round noise on a 2-core machine. Returns
 * whether it worked; the bench still runs, unpinned, where taskset or a second CPU is missing.
 */
function pinToCpu(pid, cpu) {
  if (process.platform !== 'linux' || os.availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A bench server in its own process (see servers/common.js), driven over IPC. */
class ServerProcess {
  /**
   * Fork `servers/<script>` and wait until it listens.
   * @param {string} script file name under bench/servers, or an absolute path
   * @param {string[]} args CLI arguments for the server
   * @param {{ execArgv?: string[], timeoutMs?: number, cpu?: number, wrapper?: string[] }} options `cpu`: pin the
   *   server to this CPU; `wrapper`: a command and its arguments to run Node under (e.g. `['valgrind',
   *   '--tool=callgrind']`); the IPC channel passes through it
   */
  static async start(script, args = [], options = {}) {
    const execArgv = options.execArgv ?? [];
    const [wrapper, ...wrapperArgs] = options.wrapper ?? [];
    for (let attempt = 1; ; attempt++) {
      // fork runs `execPath ...execArgv script ...args`: with a wrapper, that is `wrapper ...its args node ...execArgv`.
      const child = fork(path.resolve(SERVERS, script), args, {
        ...(wrapper === undefined
          ? { execArgv }
          : { execPath: wrapper, execArgv: [...wrapperArgs, process.execPath, ...execArgv] }),
        silent: true,
      });
      const server = new ServerProcess(child, `${script} ${args.join(' ')}`.trim());
      server.pinned = options.cpu !== undefined && pinToCpu(child.pid, options.cpu);
      try {
        server.port = await server.waitReady(options.timeoutMs ?? 30_000);
        server.origin = `http://127.0.0.1:${server.port}`;
        return server;
      } catch (err) {
        // In a shared checkout another `npm run build` may be rewriting dist/ (it starts with rm -rf): wait it out.
        if (attempt >= 10 || !DIST_MISSING.test(server.output)) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  constructor(child, label) {
    this.child = child;
    this.label = label;
    this.output = '';
    this.nextId = 1;
    this.pending = new Map();
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const keep = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-KEEP_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('message', (msg) => {
      const waiter = this.pending.get(msg.id);
      if (waiter === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) waiter.reject(new Error(`${this.label}: ${msg.error}`));
      else waiter.resolve(msg.result);
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) {
        waiter.reject(new Error(`${this.label} exited (${code ?? signal}) during a command\n${this.output}`));
      }
      this.pending.clear();
    });
  }

  waitReady(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${this.label} did not start within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (msg) => {
        if (msg.type !== 'ready') return;
        cleanup();
        resolve(msg.port);
      };
      const onExit = (code, signal) => fail(new Error(`${this.label} exited (${code ?? signal}) before listening`));
      const cleanup = () => {
        clearTimeout(timer);
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const fail = (err) => {
        cleanup();
        err.message += `\n--- output of ${this.label} ---\n${this.output}`;
        reject(err);
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
    });
  }

  /** Run a server command (`login`, or one the server script defines) and resolve to its result. */
  call(cmd, arg, timeoutMs = 60_000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: ${cmd} took over ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send({ id, cmd, arg });
    });
  }

  /** Ask the server to exit; kill this one child by its pid if it does not within 5 s. */
  async stop() {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    if (this.child.connected) this.child.send({ cmd: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    const result = await this.exited;
    clearTimeout(timer);
    return result;
  }
}

module.exports = { ServerProcess, pinToCpu };
