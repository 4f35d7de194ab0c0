/** How a generated query-string part is put on the wire. */
export type Encoding = 'pct' | 'plus' | 'double' | 'raw' | 'latin1';

/** Every encoding, for generators. */
export const ENCODINGS: readonly Encoding[] = ['pct', 'pct', 'pct', 'plus', 'double', 'raw', 'raw', 'latin1'];

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Percent-encode every byte of the UTF-8 form except the unreserved ones (lone surrogates become U+FFFD). */
export function pct(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The bytes of `text` as `encoding` puts them in a request target. */
export function encodePart(text: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'pct':
      return Buffer.from(pct(text), 'latin1');
    case 'plus':
      return Buffer.from(pct(text).replace(/%20/g, '+'), 'latin1');
    case 'double':
      return Buffer.from(pct(pct(text)), 'latin1');
    case 'raw':
      return Buffer.from(text, 'utf8');
    case 'latin1':
      return Buffer.from(text, 'latin1');
  }
}
