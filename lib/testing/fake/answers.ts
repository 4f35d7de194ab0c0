import type { ServerResponse } from 'node:http';
import type { WpsHttpError } from './errors';

/** The Content-Type of every JSON answer, as WPS sends it. */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** A JSON answer; nothing when an answer already started (a fault) or the client is gone. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'Content-Type': JSON_TYPE });
  res.end(JSON.stringify(body));
}

/** A refusal in WPS's error envelope. */
export function sendError(res: ServerResponse, error: WpsHttpError): void {
  sendJson(res, error.status, { code: error.code, msg: error.msg, debug: { desc: error.desc } });
}

/** A 302 to `location` that no cache keeps (it carries a code or an error). */
export function sendRedirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}
