import { startRedisCluster, type RedisCluster } from './cluster';
import { createMatrixClient } from './clients';
import { describeCombinations } from './matrix';

let cluster: RedisCluster | undefined;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 30_000);
afterAll(() => cluster?.stop());

/** The Cluster beforeAll started. */
function started(): RedisCluster {
  if (cluster === undefined) throw new Error('the Redis Cluster did not start');
  return cluster;
}

describe('every client on a Redis Cluster of three masters', () => {
  describeCombinations('cluster', {
    target: () => ({ nodes: started().nodes }),
    async stallable(pkg) {
      const client = createMatrixClient(pkg, { nodes: started().nodes });
      await client.connect();
      let paused = false;
      return {
        client,
        stall() {
          paused = true;
          started().pause();
        },
        unstall() {
          paused = false;
          started().resume();
        },
        close() {
          if (paused) started().resume();
          client.close();
          return Promise.resolve();
        },
      };
    },
    // The Cluster is thrown away after the file, keys and all.
    cleanUp: () => Promise.resolve(),
  });
});
