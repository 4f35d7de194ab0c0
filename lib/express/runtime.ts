import type { Request, Response } from 'express';
import type { ResolvedConfig } from '../config';
import type { Refresher } from '../refresh/refresher';
import type { TokenCodec } from '../session/token-codec';
import type { WpsLogger } from '../types';
import type { WpsRequestContext } from './context';
import type { ApiSettings } from '../wps/api';
import type { TokenClient } from '../wps/token-client';

/** What one `wpsAuth()` instance shares with every request it serves, built once by the factory. Internal. */
export interface Runtime {
  config: ResolvedConfig;
  log: WpsLogger;
  /** All HTTP to WPS's token endpoint. */
  client: TokenClient;
  refresher: Refresher;
  /** How tokens are kept in the session record: plain, or sealed with `tokenEncryptionKey`. */
  codec: TokenCodec;
  /** The settings of every `req.wps.api`. */
  api: ApiSettings;
}

/** A route of `wpsAuth()`, given the request's context. A rejection goes to `next(err)`. */
export type RouteHandler = (req: Request, res: Response, ctx: WpsRequestContext) => Promise<void>;
