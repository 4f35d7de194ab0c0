import fc from 'fast-check';
import { note } from '../../helpers/notes';

/**
 * The one seed of every property in this folder: fixed so a failure replays exactly. Override with
 * `HOSTILE_SEED=<n>` to explore, and `HOSTILE_SCALE=<k>` to multiply every run count.
 */
export const SEED = Number(process.env.HOSTILE_SEED ?? 20260505);
const SCALE = Math.max(0.01, Number(process.env.HOSTILE_SCALE ?? 1));

/** Run count for a property, after `HOSTILE_SCALE`. */
export function runs(base: number): number {
  return Math.max(1, Math.round(base * SCALE));
}

/** Run `property` with the folder's seed and print what was run, so the numbers in the README can be checked. */
export async function check<T>(
  name: string,
  numRuns: number,
  property: fc.IAsyncProperty<T> | fc.IProperty<T>,
): Promise<number> {
  const details = await fc.check(property as fc.IAsyncProperty<T>, { seed: SEED, numRuns });
  note(`[hostile] ${name}: fast-check seed=${SEED} runs=${details.numRuns}${details.failed ? ' FAILED' : ''}`);
  if (details.failed) {
    const cause =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${fc.defaultReportMessage(details) ?? `${name} failed`}\n\nCause: ${cause}`);
  }
  return details.numRuns;
}

/**
 * Known open-redirect and header-injection payloads for `returnTo` (from the OWASP cheat sheet, PortSwigger and
 * public bug reports), each of which must be refused.
 */
export const OPEN_REDIRECT_PAYLOADS: readonly string[] = [
  '//evil.example',
  '//evil.example/',
  '///evil.example',
  '////evil.example',
  '//evil.example@app.test',
  '//evil.example%2F%2F',
  '//%65vil.example',
  '/\\evil.example',
  '/\\/evil.example',
  '\\\\evil.example',
  '\\/evil.example',
  '/\\\\evil.example',
  '/%2F%2Fevil.example',
  '/%2f%2fevil.example',
  '%2F%2Fevil.example',
  '%2F%2F%2Fevil.example',
  '/%252F%252Fevil.example',
  '/%25252F%25252Fevil.example',
  '/%5Cevil.example',
  '/%5cevil.example',
  '/%255Cevil.example',
  '/%5C%5Cevil.example',
  '%5C%5Cevil.example',
  '\t/evil.example',
  '\t//evil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\r/evil.example',
  ' //evil.example',
  '/ /evil.example',
  '%09//evil.example',
  '/%09/evil.example',
  '/%0a/evil.example',
  '/%0d/evil.example',
  '/%00/evil.example',
  '/\u0000//evil.example',
  'https:evil.example',
  'https:/evil.example',
  'https://evil.example',
  'http://evil.example',
  'HTTPS://evil.example',
  'https:\\\\evil.example',
  'http:\\\\evil.example',
  'https%3A%2F%2Fevil.example',
  'javascript:alert(1)',
  'JavaScript:alert(1)',
  'java\tscript:alert(1)',
  'javascript%3Aalert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
  '/／evil.example',
  '／／evil.example',
  '/∕∕evil.example',
  '/⁄⁄evil.example',
  '/＼evil.example',
  '/%EF%BC%8F%EF%BC%8Fevil.example',
  '/%E2%88%95%E2%88%95evil.example',
  '/%E2%81%84evil.example',
  '/%EF%BC%BCevil.example',
  '/%C0%AF/evil.example',
  '/%E0%80%AF/evil.example',
  '/%u002F%u002Fevil.example',
  '/\u200b/evil.example',
  '\u202e//evil.example',
  '/。evil.example',
  '/a%0d%0aLocation:%20//evil.example',
  '/a\r\nLocation: //evil.example',
  '/a%0aSet-Cookie:%20sid=evil',
  'evil.example',
  '.evil.example',
  '@evil.example',
  '',
  `/${'a'.repeat(2048)}`,
];

const APP_BASES = ['http://app.test/', 'https://app.test/deep/path/page?x=1#f'].map((b) => new URL(b));
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Independent judge of a redirect target, written from the browser's side: the value, and every percent-decoded
 * form of it (for apps that decode and redirect again), must resolve to the app's own origin from any page of the
 * app under the WHATWG URL parser browsers use, and carry no control character (header injection).
 */
export function staysOnOrigin(location: string): boolean {
  if (!location.startsWith('/') || location.startsWith('//') || location.startsWith('/\\')) return false;
  let form = location;
  for (let depth = 0; depth < 4; depth++) {
    if (CONTROL.test(form)) return false;
    for (const base of APP_BASES) {
      let resolved: URL;
      try {
        resolved = new URL(form, base);
      } catch {
        return false;
      }
      if (resolved.origin !== base.origin) return false;
    }
    let next: string;
    try {
      next = decodeURIComponent(form);
    } catch {
      return true;
    }
    if (next === form) return true;
    form = next;
  }
  return true;
}

/** Characters redirect tricks are made of, for biased string generation. */
export const TRICKY_CHARS: readonly string[] = [
  '/',
  '/',
  '/',
  '\\',
  '%',
  '2',
  'F',
  'f',
  '5',
  'C',
  'c',
  '0',
  '9',
  'a',
  'D',
  ':',
  '.',
  '@',
  '?',
  '#',
  '&',
  '=',
  '+',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u0000',
  'e',
  'v',
  'i',
  'l',
  'h',
  't',
  'p',
  's',
  'j',
  '／',
  '∕',
  '⁄',
  '＼',
  '\u200b',
  '\u202e',
  '。',
  'é',
  '中',
];

/** Strings built from {@link TRICKY_CHARS}, often starting with a slash: near-misses of real paths. */
export const trickyString = (maxLength = 40): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom('', '/', '/', '//', '/\\', '%2F', 'https:'),
      fc.string({ unit: fc.constantFrom(...TRICKY_CHARS), maxLength }),
    )
    .map(([prefix, rest]) => prefix + rest);

/** Ordinary same-origin paths, with query and fragment, that must be kept as they are. */
const SAFE_SEGMENT = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~'),
  minLength: 1,
  maxLength: 12,
});
export const SAFE_PATH: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(SAFE_SEGMENT, { maxLength: 5 }),
    fc.boolean(),
    fc.array(
      fc.tuple(
        SAFE_SEGMENT,
        fc.string({
          unit: fc.constantFrom('a', 'Z', '0', '9', '-', '_', '.', '~', '%20', '%2F', '%3D', '%E4%B8%AD'),
          maxLength: 8,
        }),
      ),
      { maxLength: 3 },
    ),
    fc.option(SAFE_SEGMENT, { nil: undefined }),
  )
  .map(([segments, trailing, query, fragment]) => {
    let path = `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`;
    if (query.length > 0) path += `?${query.map(([k, v]) => `${k}=${v}`).join('&')}`;
    if (fragment !== undefined) path += `#${fragment}`;
    return path;
  });
