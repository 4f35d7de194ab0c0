import type { IncomingMessage, ServerResponse } from 'node:http';
import { JSON_TYPE } from './answers';
import type { FakeTimers } from './timers';

/**
 * A misbehaviour to inject into upcoming `POST /oauth2/token` answers, to test the app's error handling.
 * Apart from `delayMs`, a fault replaces the real answer: no token is issued and no code or refresh token is used.
 */
export type FakeFault =
  /** Answer with this status and body (a string as-is, an object as JSON). */
  | {
      /** The HTTP status to answer with. */
      status: number;
      /** The body: a string as it is, an object as JSON. */
      body?: string | object;
      /** The Content-Type; by default JSON for an object body, text for a string. */
      contentType?: string;
    }
  /** Wait this long, then answer normally. */
  | {
      /** Milliseconds to wait before the normal answer. */
      delayMs: number;
    }
  /** Never answer; the socket stays open until the client gives up or `close()` is called. */
  | {
      /** Always `true`. */
      hang: true;
    }
  /** Destroy the socket (TCP RST) without a response. */
  | {
      /** Always `true`. */
      reset: true;
    }
  /** 200 with a JSON content type and a truncated JSON body. */
  | {
      /** Always `true`. */
      malformedJson: true;
    }
  /** 200 with JSON headers, then one byte every `intervalMs` until `bytes` were sent. */
  | {
      /** How slowly to send the body. */
      drip: {
        /** How many bytes to send in all. */
        bytes: number;
        /** Milliseconds between two bytes. */
        intervalMs: number;
      };
    }
  /** 200 with a valid JSON body (a `padding` field) of exactly this many bytes (at least 14). */
  | {
      /** The body's size in bytes. */
      bodyBytes: number;
    };

/** A fault that replaces the answer: every kind but `delayMs`, which only delays the normal one. */
export type AnsweringFault = Exclude<FakeFault, { delayMs: number }>;

const MALFORMED_JSON = '{"access_token": "abc", ';
const EMPTY_PADDED_JSON = '{"padding":""}';

function validateFault(fault: FakeFault, caller: string): void {
  const invalid = (why: string) => new RangeError(`${caller}: ${why}, got ${JSON.stringify(fault)}`);
  if ('status' in fault) {
    if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
      throw invalid("'status' must be a whole number from 200 to 599");
    }
  } else if ('delayMs' in fault) {
    if (!Number.isFinite(fault.delayMs) || fault.delayMs < 0) throw invalid("'delayMs' must be a finite number >= 0");
  } else if ('drip' in fault) {
    const { bytes, intervalMs } = fault.drip;
    if (!Number.isInteger(bytes) || bytes < 1 || !Number.isFinite(intervalMs) || intervalMs < 0) {
      throw invalid("'drip' needs a whole 'bytes' >= 1 and a finite 'intervalMs' >= 0");
    }
  } else if ('bodyBytes' in fault) {
    if (!Number.isInteger(fault.bodyBytes) || fault.bodyBytes < EMPTY_PADDED_JSON.length) {
      throw invalid(`'bodyBytes' must be a whole number >= ${EMPTY_PADDED_JSON.length}`);
    }
  } else if (!('hang' in fault) && !('reset' in fault) && !('malformedJson' in fault)) {
    throw invalid('unknown fault kind');
  }
}

/** `queueTokenFault()` and `queueApiFault()`: validate now, so a bad fault fails the test that queued it. */
export function queueFault(queue: FakeFault[], caller: string, fault: FakeFault, times: number): void {
  validateFault(fault, caller);
  if (!Number.isInteger(times) || times < 1) {
    throw new RangeError(`${caller}: 'times' must be a whole number >= 1, got ${String(times)}`);
  }
  for (let i = 0; i < times; i++) queue.push(fault);
}

/**
 * Use the next queued fault: a `delayMs` one waits here and lets the normal answer follow (`undefined`), any other
 * is returned for {@link answerWithFault}.
 */
export async function takeFault(queue: FakeFault[], timers: FakeTimers): Promise<AnsweringFault | undefined> {
  const fault = queue.shift();
  if (fault === undefined) return undefined;
  if (!('delayMs' in fault)) return fault;
  await timers.sleep(fault.delayMs);
  return undefined;
}

/** Answer as `fault` says, in place of the endpoint's answer. */
export function answerWithFault(
  req: IncomingMessage,
  res: ServerResponse,
  fault: AnsweringFault,
  timers: FakeTimers,
): void {
  if ('status' in fault) answerWithStatus(res, fault);
  else if ('reset' in fault) req.socket.resetAndDestroy();
  else if ('malformedJson' in fault) answerRaw(res, MALFORMED_JSON);
  else if ('bodyBytes' in fault) answerRaw(res, paddedJson(fault.bodyBytes));
  else if ('drip' in fault) drip(res, fault.drip.bytes, fault.drip.intervalMs, timers);
  // { hang: true }: leave the response open; close() destroys the socket.
}

function answerWithStatus(res: ServerResponse, fault: Extract<FakeFault, { status: number }>): void {
  const { status, body, contentType } = fault;
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const defaultType = typeof body === 'string' ? 'text/plain; charset=utf-8' : JSON_TYPE;
  const type = contentType ?? (body === undefined ? undefined : defaultType);
  res.writeHead(status, type === undefined ? {} : { 'Content-Type': type });
  res.end(text);
}

function answerRaw(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(text)) });
  res.end(text);
}

function drip(res: ServerResponse, bytes: number, intervalMs: number, timers: FakeTimers): void {
  const payload = Buffer.from(paddedJson(Math.max(bytes, EMPTY_PADDED_JSON.length)).slice(0, bytes));
  res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': String(bytes) });
  res.flushHeaders();
  let sent = 0;
  const timer = timers.every(intervalMs, () => {
    res.write(payload.subarray(sent, sent + 1));
    sent += 1;
    if (sent === bytes) {
      timers.stop(timer);
      res.end();
    }
  });
  res.on('close', () => timers.stop(timer));
}

/** Valid JSON of exactly `bytes` bytes (at least 14): a `padding` string of `x`. */
function paddedJson(bytes: number): string {
  return `{"padding":"${'x'.repeat(bytes - EMPTY_PADDED_JSON.length)}"}`;
}
