import { readFileSync } from 'node:fs';
import path from 'node:path';

// Which express-session the suites run against: the newest installed, or 1.17.0 when CI sets
// WPS_EXPRESS_SESSION=oldest (jest.config.js). The seam tests beside this file then check that version.

it('runs against the express-session the environment asks for', () => {
  const dir = path.dirname(require.resolve('express-session'));
  const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  if (process.env.WPS_EXPRESS_SESSION === 'oldest') expect(version).toBe('1.17.0');
  else expect(version).toMatch(/^1\.(19|[2-9]\d)\./);
});
