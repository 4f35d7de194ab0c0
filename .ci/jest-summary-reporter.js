'use strict';

/**
 * Ends a Jest run with one plain line, `Jest: N passed, N failed, N skipped`, that CI logs and readers of them
 * can count on whatever the other reporters print.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests, numFailedTests, numPendingTests, numTodoTests } = results;
    process.stdout.write(
      `\nJest: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests + numTodoTests} skipped\n`,
    );
  }
}

module.exports = SummaryReporter;
