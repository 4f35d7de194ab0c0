'use strict';

const http = require('node:http');
const session = require('express-session');

/** Express 4 (`express`) or Express 5 (`express5`, an npm alias), as the first CLI argument says. */
function loadExpress(flavor) {
  if (flavor === 'express5') return require('express5');
  if (flavor === undefined || flavor === 'express') return require('express');
  throw new Error(`unknown Express flavor ${flavor}`);
}

/** The same session set-up in every variant: express-session with its MemoryStore, nothing saved unless used. */
function sessionMiddleware() {
  return session({
    secret: 'bench-session-secret',
    resave: false,
    saveUninitialized: false,
    store: new session.MemoryStore(),
  });
}

/** The route every variant serves under load. */
function tinyJson(_req, res) {
  res.json({ ok: true });
}

/** Errors as small JSON, so an unauthenticated probe gets a 401 instead of an HTML stack trace on stderr. */
function jsonErrors(err, _req, res, _next) {
  res.status(typeof err.status === 'number' ? err.status : 500).json({ code: err.code ?? 'error' });
}

/**
 * Run a bench server on 127.0.0.1 (port 0) and talk to the runner over IPC. `build(origin)` returns the app plus
 * `login()` (signs in through the app's real routes, resolves to the `Cookie` header) and optional extra commands.
 * The runner sends `{ id, cmd, arg }` and gets `{ id, result }` or `{ id, error }`; `stop` exits.
 */
async function serve(build) {
  const server = http.createServer();
  // The load generator keeps connections open between rounds.
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  const built = await build(origin);
  server.on('request', built.app);
  // `cpu`: this process's CPU time so far (µs), so the runner can divide by the requests it sent.
  const commands = { login: built.login, cpu: () => process.cpuUsage(), ...built.commands };

  async function stop() {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    if (built.close !== undefined) await built.close();
    process.exit(0);
  }

  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg) => {
    if (msg.cmd === 'stop') {
      stop().catch(() => process.exit(1));
      return;
    }
    const command = commands[msg.cmd];
    Promise.resolve()
      .then(() => {
        if (command === undefined) throw new Error(`unknown command ${msg.cmd}`);
        return command(msg.arg);
      })
      .then(
        (result) => process.send({ id: msg.id, result }),
        (err) => process.send({ id: msg.id, error: err instanceof Error ? err.stack : String(err) }),
      );
  });
  process.send({ type: 'ready', port });
}

/** Run `main` and exit non-zero with the error when the server cannot start. */
function start(build) {
  serve(build).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = { loadExpress, sessionMiddleware, tinyJson, jsonErrors, start };
