'use strict';

/**
 * Ends a Jest run with one plain line, `Jest (Node vX.Y.Z): N passed, N failed, N skipped`, that CI logs and readers
 * of them can count on whatever the other reporters print — one per Node version CI runs the suites on.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    process.stdout.write(
      `\nJest (Node ${process.version}): ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`,
    );
  }
}

module.exports = SummaryReporter;
