import { safeReturnTo } from '../lib/express/return-to';

describe('safeReturnTo', () => {
  it.each(['/', '/files', '/files?id=1&x=%20y', '/a/b#frag', '/%E4%B8%AD%E6%96%87', '/search?q=a%2Fb'])(
    'keeps the same-origin path %s',
    (path) => {
      expect(safeReturnTo(path)).toBe(path);
    },
  );

  it.each([
    ['protocol-relative', '//evil.example'],
    ['backslash', '/\\evil.example'],
    ['backslash later', '/a\\..\\evil'],
    ['absolute URL', 'https://evil.example/'],
    ['scheme without slashes', 'https:evil.example'],
    ['javascript', 'javascript:alert(1)'],
    ['relative', 'files'],
    ['encoded double slash', '/%2F%2Fevil.example'],
    ['encoded backslash', '/%5Cevil.example'],
    ['double-encoded slash', '/%252F%252Fevil.example'],
    ['tab first', '\t/evil'],
    ['newline inside', '/a\nLocation: //evil'],
    ['encoded newline', '/a%0d%0aSet-Cookie:x=1'],
    ['space', '/a b'],
    ['unicode fullwidth solidus', '/／evil.example'],
    ['unicode slash lookalike', '/∕∕evil.example'],
    ['bad percent-encoding', '/%E0%A4%A'],
    ['too long', `/${'a'.repeat(2048)}`],
    ['empty', ''],
  ])('refuses %s', (_name, value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });

  it.each([[undefined], [null], [42], [['/a', '/b']], [{ a: '/x' }]])('refuses the non-string %p', (value) => {
    expect(safeReturnTo(value)).toBeUndefined();
  });
});
