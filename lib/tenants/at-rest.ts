import { createHash } from 'node:crypto';
import { SEALED_PREFIX, TokenSealer } from '../session/token-sealer';

/** A company's tenant token as cached: the token, when it expires, and when to stop serving it (epoch ms). */
export interface TenantToken {
  accessToken: string;
  expiresAt: number;
  /** Its expiry minus the skew: a new one is fetched from then on. */
  renewAt: number;
}

// What a sealed value is bound to (the associated data): a ticket never opens as a token, nor one company's token
// as another's, nor either as a session's token record (session ids contain no ':').
const TICKET_AAD = 'wps-tenants:app-ticket';
const tokenAad = (companyId: string) => `wps-tenants:token:${companyId}`;

/** A digest of a ticket, to name it in the store (claims, refusals) without storing it. */
export function ticketDigest(ticket: string): string {
  return createHash('sha256').update(ticket, 'utf8').digest('base64url');
}

/** The token in a parsed stored value, or `undefined` when it is not one (a store is never trusted). */
function tenantTokenOf(value: unknown): TenantToken | undefined {
  const t = value as Partial<TenantToken> | null;
  if (typeof t !== 'object' || t === null || typeof t.accessToken !== 'string') return undefined;
  const { accessToken, expiresAt, renewAt } = t;
  if (typeof expiresAt !== 'number' || typeof renewAt !== 'number') return undefined;
  return { accessToken, expiresAt, renewAt };
}

/**
 * How tickets and tenant tokens are kept in the tenant store: as they are, or sealed with `tokenEncryptionKey`
 * (AES-256-GCM, the same format as the session's sealed tokens). A value stored in the clear still opens once a key
 * is set; a sealed value that no key opens counts as absent. Internal.
 */
export class TenantsAtRest {
  private readonly sealer: TokenSealer | undefined;

  constructor(keys: ReadonlyArray<string | Buffer> | undefined) {
    this.sealer = keys === undefined ? undefined : new TokenSealer(keys);
  }

  /** The company's token as stored. */
  closeToken(token: TenantToken, companyId: string): string {
    const { accessToken, expiresAt, renewAt } = token;
    if (this.sealer === undefined) return JSON.stringify({ accessToken, expiresAt, renewAt });
    const record = { accessToken, expiresAt, renewAt, tokenType: 'bearer', rev: 0 };
    return this.sealer.seal(record, tokenAad(companyId));
  }

  /** The company's token in a stored value; `undefined` when there is none, or it does not open here. */
  openToken(stored: string | undefined, companyId: string): TenantToken | undefined {
    if (stored === undefined) return undefined;
    if (stored.startsWith(SEALED_PREFIX)) return tenantTokenOf(this.sealer?.unseal(stored, tokenAad(companyId)));
    try {
      return tenantTokenOf(JSON.parse(stored));
    } catch {
      return undefined;
    }
  }

  /** The ticket as stored. */
  closeTicket(ticket: string): string {
    if (this.sealer === undefined) return ticket;
    return this.sealer.seal({ accessToken: ticket, expiresAt: 0, tokenType: 'app_ticket', rev: 0 }, TICKET_AAD);
  }

  /** The ticket in a stored value; `undefined` when there is none, or it does not open here. */
  openTicket(stored: string | undefined): string | undefined {
    if (stored === undefined || stored === '') return undefined;
    if (!stored.startsWith(SEALED_PREFIX)) return stored;
    return this.sealer?.unseal(stored, TICKET_AAD)?.accessToken;
  }
}
