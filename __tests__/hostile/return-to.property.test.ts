import fc from 'fast-check';
import { safeReturnTo } from '../../lib/express/return-to';
import { check, OPEN_REDIRECT_PAYLOADS, runs, SAFE_PATH, staysOnOrigin, trickyString } from './helpers/fuzz';

const HOSTS = fc.oneof(
  fc.domain(),
  fc.constantFrom('evil.example', 'evil.example:8080', '127.0.0.1', '[::1]', 'app.test.evil.example'),
);

/** Ways to start a target that leaves the origin (or injects a header), each to be followed by a host. */
const OFF_ORIGIN_PREFIXES = [
  '//',
  '///',
  '/\\',
  '\\\\',
  '\\/',
  '/%2F',
  '/%2F%2F',
  '%2F%2F',
  '/%252F%252F',
  '/%5C',
  '/%5c',
  '%5C%5C',
  '\t//',
  '/\t/',
  '/\n/',
  ' //',
  '%09//',
  '/%09/',
  '/%0d%0a',
  'https:',
  'https://',
  'http:/',
  'HTTP://',
  'javascript:',
  'data:',
  '/／',
  '／／',
  '/∕∕',
  '/⁄',
  '/＼',
  '/%EF%BC%8F',
  '/%C0%AF',
  '\u202e//',
];

describe('safeReturnTo against hostile input (property-based)', () => {
  /** A title-safe label: escapes, not raw control, invisible or direction-changing characters. */
  const label = (p: string) =>
    JSON.stringify(p.length > 60 ? `${p.slice(0, 20)}…(${p.length} chars)` : p).replace(
      /[^\x20-\x7e]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );

  it.each(OPEN_REDIRECT_PAYLOADS.map((p) => [label(p), p]))('refuses the known payload %s', (_label, payload) => {
    expect(safeReturnTo(payload)).toBeUndefined();
  });

  it('refuses every generated off-origin target: a known prefix, a host, a path', async () => {
    const n = runs(2000);
    const ran = await check(
      'returnTo: off-origin prefix + host',
      n,
      fc.property(fc.constantFrom(...OFF_ORIGIN_PREFIXES), HOSTS, fc.webPath(), (prefix, host, path) => {
        const target = `${prefix}${host}${path}`;
        expect(safeReturnTo(target)).toBeUndefined();
      }),
    );
    expect(ran).toBe(n);
  });

  it('never accepts a target that leaves the origin, whatever the string (biased and unbiased generators)', async () => {
    const n = runs(6000);
    const anyString = fc.oneof(
      { weight: 4, arbitrary: trickyString(40) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => `/${s}`) },
      { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
      { weight: 1, arbitrary: fc.webPath().map((p) => encodeURIComponent(p)) },
    );
    let accepted = 0;
    const ran = await check(
      'returnTo: arbitrary strings',
      n,
      fc.property(anyString, (value) => {
        const result = safeReturnTo(value);
        if (result === undefined) return;
        accepted++;
        expect(result).toBe(value);
        expect(staysOnOrigin(result)).toBe(true);
        expect(result.length).toBeLessThanOrEqual(2048);
      }),
    );
    expect(ran).toBe(n);
    // The generators must also produce acceptable targets, or the property above proves nothing.
    expect(accepted).toBeGreaterThan(n / 20);
  });

  it('keeps every ordinary same-origin path unchanged', async () => {
    const n = runs(2000);
    const ran = await check(
      'returnTo: ordinary paths kept',
      n,
      fc.property(SAFE_PATH, (path) => {
        expect(safeReturnTo(path)).toBe(path);
      }),
    );
    expect(ran).toBe(n);
  });

  it('refuses non-strings of every kind', async () => {
    const n = runs(500);
    const ran = await check(
      'returnTo: non-strings',
      n,
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string'),
        (value) => {
          expect(safeReturnTo(value)).toBeUndefined();
        },
      ),
    );
    expect(ran).toBe(n);
  });
});
