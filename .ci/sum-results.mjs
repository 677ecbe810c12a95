// Sums every vitest JSON report under a dir into the closing "N passed, N failed, N skipped" line
// of .ci/run (skipped: tests vitest reports as pending or todo -- skip, skipIf, todo).
// usage: node sum-results.mjs <json-dir> <steps.tsv>
//   steps.tsv lines: name<TAB>kind<TAB>exit code[<TAB>log file]; reports of step S are in <json-dir>/S/
// Besides failed tests, these count as 1 failed each, so that nothing fails silently:
// - a test file that failed without a failed test (import error, failing beforeAll: its tests
//   show as skipped);
// - in a turbo step, each failed task that is not a test run (a build; once over all steps), and each failed test
//   run that left no report with a failure (vitest crashed before writing one);
// - a failed step with no other failure to show for it (install, lint, typecheck...).
// Exit 1 if anything failed.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

function jsonFiles(dir) {
  let out = [];
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out = out.concat(jsonFiles(p));
    else if (n.endsWith('.json')) out.push(p);
  }
  return out;
}

/** counts of one vitest JSON report; throws if it is not one */
export function countReport(report) {
  if (typeof report?.numPassedTests !== 'number' || typeof report?.numFailedTests !== 'number') {
    throw new Error('not a vitest JSON report (no numPassedTests/numFailedTests)');
  }
  let failed = report.numFailedTests;
  for (const file of report.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((a) => a.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) failed += 1;
  }
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  return { passed: report.numPassedTests, failed, skipped };
}

/** task ids of turbo's closing "Failed:    a#build, b#test" line in a step log */
export function turboFailedTasks(logFile) {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  // eslint-disable-next-line no-control-regex
  text = text.replace(/\x1b\[[0-9;]*m/g, '');
  const m = [...text.matchAll(/^\s*Failed:\s+(.+)$/gm)].pop();
  return m ? m[1].split(',').map((t) => t.trim()).filter((t) => t.includes('#')) : [];
}

function main([dir, stepsFile]) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failedBySubdir = new Map();
  const reportsWithFailures = new Map();
  for (const f of jsonFiles(dir)) {
    const sub = f.slice(dir.length + 1).split('/')[0];
    let c;
    try {
      c = countReport(JSON.parse(readFileSync(f, 'utf8')));
    } catch (err) {
      console.error(`unreadable report ${f}: ${err.message}`);
      c = { passed: 0, failed: 1, skipped: 0 };
    }
    passed += c.passed;
    skipped += c.skipped;
    failed += c.failed;
    failedBySubdir.set(sub, (failedBySubdir.get(sub) ?? 0) + c.failed);
    if (c.failed > 0) reportsWithFailures.set(sub, (reportsWithFailures.get(sub) ?? 0) + 1);
    if (c.failed > 0) console.error(`failures in ${f.slice(dir.length + 1)}: ${c.failed}`);
  }
  const steps = stepsFile
    ? readFileSync(stepsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
    : [];
  const countedTasks = new Set();
  for (const [name, , rc, logFile] of steps) {
    if (rc === '0') continue;
    const tasks = logFile ? turboFailedTasks(logFile) : [];
    let extra = 0;
    if (tasks.length > 0) {
      const testTasks = tasks.filter((t) => /#test(:|$)/.test(t));
      // a failed build shows in every step that depends on it: count it once
      const nonTest = tasks.filter((t) => !testTasks.includes(t) && !countedTasks.has(t));
      for (const t of nonTest) countedTasks.add(t);
      const crashed = Math.max(0, testTasks.length - (reportsWithFailures.get(name) ?? 0));
      extra = nonTest.length + crashed;
      if (extra > 0) console.error(`step ${name}: failed tasks ${tasks.join(', ')}: ${nonTest.length} non-test + ${crashed} test run(s) without a failing report counted as failed`);
    }
    // without turbo's task list (not a turbo step, or turbo itself failed) the step counts once
    if (tasks.length === 0 && (failedBySubdir.get(name) ?? 0) === 0) {
      console.error(`step ${name} failed (exit ${rc}) with no failed test in its reports: counted as 1 failed`);
      extra = 1;
    }
    failed += extra;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
