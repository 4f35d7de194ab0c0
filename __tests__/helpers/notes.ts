/**
 * What a suite measured on the way (fast-check runs, outcome tallies, bytes scanned): printed only with
 * `TEST_NOTES=1`, so that a passing `npm test` prints its summary and nothing else.
 */
export function note(text: string): void {
  if (process.env.TEST_NOTES === '1') process.stdout.write(`[note] ${text}\n`);
}
