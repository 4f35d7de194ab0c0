import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Redis Cluster of three masters on loopback, started from `redis-server` for one test file. */
export interface RedisCluster {
  /** `127.0.0.1:port` of each master. */
  nodes: string[];
  /** Freeze every node (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Thaw every node (SIGCONT). */
  resume(): void;
  /** Kill every node and remove its files. */
  stop(): Promise<void>;
}

/** Whether `port` on 127.0.0.1 can be listened on now (0: any free port); resolves with the port, or `null`. */
function listenable(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as net.AddressInfo;
      server.close(() => resolve(bound));
    });
  });
}

/** Three free ports whose cluster bus ports (port + 10000) are free too. */
async function freePorts(): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < 3) {
    const port = await listenable(0);
    if (port !== null && port + 10_000 <= 65_535 && (await listenable(port + 10_000)) !== null) ports.add(port);
  }
  return [...ports];
}

/** Start one cluster-enabled redis-server; resolves once it logs that it accepts connections. */
function startNode(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`)],
      ...['--save', '', '--appendonly', 'no'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('Ready to accept connections')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`redis-server on port ${port} exited (code ${String(code)})`)));
  });
}

/** Poll `cluster info` on every node (every 50 ms, for at most 20 s) until each says the cluster is ok. */
async function waitUntilOk(ports: number[]): Promise<void> {
  const until = Date.now() + 20_000;
  for (;;) {
    const infos = await Promise.all(
      ports.map((port) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info'])),
    );
    if (infos.every(({ stdout }) => stdout.includes('cluster_state:ok'))) return;
    if (Date.now() > until) throw new Error('the Redis Cluster did not reach cluster_state:ok within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Kill `child` and wait until it has exited. */
function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  return exited;
}

/**
 * Start three `redis-server --cluster-enabled yes` nodes on free loopback ports (no persistence, files in a
 * temporary directory), join them with `redis-cli --cluster create … --cluster-replicas 0`, and wait until every
 * node reports `cluster_state:ok`.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wps-redis-cluster-'));
  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(kill));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports = await freePorts();
    for (const port of ports) children.push(await startNode(port, dir));
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntilOk(ports);
    return {
      nodes,
      pause: () => children.forEach((child) => child.kill('SIGSTOP')),
      resume: () => children.forEach((child) => child.kill('SIGCONT')),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
