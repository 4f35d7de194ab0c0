import { Cluster as IoCluster5, Redis as IoRedis5 } from 'ioredis5';
import { Cluster as IoCluster6, Redis as IoRedis6 } from 'ioredis6';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis5';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6';
import type { IoRedisClient, NodeRedisClient, WpsRedisClient } from '../../lib';

/** The client packages of the matrix: devDependency aliases of each major version. */
export type ClientPackage = 'redis5' | 'redis6' | 'ioredis5' | 'ioredis6';

/** Where a client connects: one Redis (`url`) or a Cluster (`nodes`, `host:port` of its masters). */
export type Target = { url: string } | { nodes: string[] };

/** A client of one package, created but not connected. */
export interface MatrixClient {
  client: WpsRedisClient;
  connect(): Promise<void>;
  /** Whether the client says it is connected (node-redis `isReady`, else `isOpen`; ioredis `status`). */
  ready(): boolean;
  /** What the client says of its connection: ioredis `status`, node-redis `open` or `closed`. */
  state(): string;
  close(): void;
}

type NodeRedis = NodeRedisClient & {
  on(event: 'error', listener: () => void): unknown;
  connect(): Promise<unknown>;
  destroy(): void;
};
type IoRedis = IoRedisClient & {
  on(event: 'error', listener: () => void): unknown;
  connect(): Promise<void>;
  disconnect(): void;
};

function nodeRedis(client: NodeRedis): MatrixClient {
  client.on('error', () => {});
  return {
    client,
    connect: async () => {
      await client.connect();
    },
    ready: () => client.isReady ?? client.isOpen,
    state: () => (client.isOpen ? 'open' : 'closed'),
    close: () => client.destroy(),
  };
}

function ioRedis(client: IoRedis): MatrixClient {
  client.on('error', () => {});
  return {
    client,
    connect: () => client.connect(),
    ready: () => client.status === 'ready',
    state: () => client.status,
    close: () => client.disconnect(),
  };
}

const rootNodes = (nodes: string[]) => nodes.map((node) => ({ url: `redis://${node}` }));
const startupNodes = (nodes: string[]) =>
  nodes.map((node) => ({ host: node.split(':')[0] as string, port: Number(node.split(':')[1]) }));
// Reconnect every 50 ms, so that a test sees a client come back at once.
const nodeSocket = { reconnectStrategy: () => 50 };
const ioOptions = { lazyConnect: true, retryStrategy: () => 50 };

/** A client of `pkg` for `target`, not connected yet (ioredis: `lazyConnect`). */
export function createMatrixClient(pkg: ClientPackage, target: Target): MatrixClient {
  const cluster = 'nodes' in target;
  switch (pkg) {
    case 'redis5':
      return nodeRedis(
        cluster
          ? createCluster5({ rootNodes: rootNodes(target.nodes) })
          : createClient5({ url: target.url, socket: nodeSocket }),
      );
    case 'redis6':
      return nodeRedis(
        cluster
          ? createCluster6({ rootNodes: rootNodes(target.nodes) })
          : createClient6({ url: target.url, socket: nodeSocket }),
      );
    case 'ioredis5':
      return ioRedis(
        cluster ? new IoCluster5(startupNodes(target.nodes), ioOptions) : new IoRedis5(target.url, ioOptions),
      );
    case 'ioredis6':
      return ioRedis(
        cluster ? new IoCluster6(startupNodes(target.nodes), ioOptions) : new IoRedis6(target.url, ioOptions),
      );
  }
}
