import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** What one proxied TCP connection carried, so a test can see who hung up and when. */
export interface ProxiedConnection {
  /** First line the client sent, e.g. `POST /oauth2/token HTTP/1.1`. */
  requestLine: string;
  /** Bytes the upstream (the fake WPS) sent. */
  fromUpstream: number;
  /** Bytes handed to the client (our library). */
  toClient: number;
  /** `'client'` when our side closed the connection first, `'upstream'` when the fake did. */
  closedBy: 'client' | 'upstream' | undefined;
  openedAt: number;
  closedAt: number | undefined;
}

/** One HTTP request seen on a (possibly kept-alive) connection. */
export interface ProxiedRequest {
  line: string;
  at: number;
  connection: ProxiedConnection;
  /** `connection.toClient` when the request was sent: what came after is this request's answer. */
  toClientBefore: number;
}

/** A TCP proxy on 127.0.0.1 in front of the fake WPS that counts bytes per connection. */
export interface CountingProxy {
  /** Origin to use as `baseUrl`. */
  url: string;
  connections: ProxiedConnection[];
  requests: ProxiedRequest[];
  /** The last request whose request line starts with `prefix`. */
  last(prefix: string): ProxiedRequest | undefined;
  close(): Promise<void>;
}

/**
 * Start a counting proxy to `target` (`http://127.0.0.1:port`). With `chunkBytes`/`delayMs` it hands the upstream's
 * bytes to the client in slices of `chunkBytes` every `delayMs`, so a client that stops reading is seen stopping
 * long before the upstream is done.
 */
export function startCountingProxy(
  target: string,
  pace: { chunkBytes: number; delayMs: number } | undefined = undefined,
): Promise<CountingProxy> {
  const { hostname, port } = new URL(target);
  const connections: ProxiedConnection[] = [];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = createServer((client) => {
    const conn: ProxiedConnection = {
      requestLine: '',
      fromUpstream: 0,
      toClient: 0,
      closedBy: undefined,
      openedAt: Date.now(),
      closedAt: undefined,
    };
    connections.push(conn);
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const pending: Buffer[] = [];
    let upstreamEnded = false;
    let pumping = false;

    const closed = (by: 'client' | 'upstream') => {
      if (conn.closedBy !== undefined) return;
      conn.closedBy = by;
      conn.closedAt = Date.now();
    };
    const deliver = (chunk: Buffer) => {
      if (client.destroyed) return;
      conn.toClient += chunk.length;
      client.write(chunk);
    };
    const pump = () => {
      const next = client.destroyed ? undefined : pending.shift();
      if (next === undefined) {
        pumping = false;
        if (upstreamEnded) client.end();
        return;
      }
      pumping = true;
      const slice = next.subarray(0, pace?.chunkBytes);
      if (slice.length < next.length) pending.unshift(next.subarray(slice.length));
      deliver(slice);
      const timer = setTimeout(() => {
        timers.delete(timer);
        pump();
      }, pace?.delayMs ?? 0);
      timers.add(timer);
    };

    client.on('data', (chunk: Buffer) => {
      const line = chunk.toString('latin1').split('\r\n')[0] ?? '';
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]$/.test(line)) {
        if (conn.requestLine === '') conn.requestLine = line;
        requests.push({ line, at: Date.now(), connection: conn, toClientBefore: conn.toClient });
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      conn.fromUpstream += chunk.length;
      if (pace === undefined) deliver(chunk);
      else {
        pending.push(chunk);
        if (!pumping) pump();
      }
    });
    upstream.on('end', () => {
      closed('upstream');
      upstreamEnded = true;
      if (!pumping) client.end();
    });
    // A reset upstream resets the client too, as it would without the proxy.
    upstream.on('error', () => {
      closed('upstream');
      client.destroy();
    });
    client.on('close', () => {
      closed('client');
      upstream.destroy();
    });
    client.on('error', () => undefined);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({
        url,
        connections,
        requests,
        last: (prefix) => requests.filter((r) => r.line.startsWith(prefix)).at(-1),
        close: () =>
          new Promise<void>((done) => {
            for (const t of timers) clearTimeout(t);
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
