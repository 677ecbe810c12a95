// Sums every vitest JSON report under a dir into the closing "N passed, N failed" line of .ci/run.
// usage: node sum-results.mjs <json-dir> <steps.tsv>   (steps.tsv lines: name<TAB>kind<TAB>exit code)
// A test file that failed without a failed test (import error, failing beforeAll: its tests show
// as skipped) counts as 1 failed; so does a failed step with no failure in any report (lint,
// typecheck, install, a vitest run that crashed before writing one). Exit 1 if anything failed.
/* global console */
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
  return { passed: report.numPassedTests, failed };
}

function main([dir, stepsFile]) {
  let passed = 0;
  let failed = 0;
  const failedBySubdir = new Map();
  for (const f of jsonFiles(dir)) {
    const sub = f.slice(dir.length + 1).split('/')[0];
    let c;
    try {
      c = countReport(JSON.parse(readFileSync(f, 'utf8')));
    } catch (err) {
      console.error(`unreadable report ${f}: ${err.message}`);
      c = { passed: 0, failed: 1 };
    }
    passed += c.passed;
    failed += c.failed;
    failedBySubdir.set(sub, (failedBySubdir.get(sub) ?? 0) + c.failed);
    if (c.failed > 0) console.error(`failures in ${f.slice(dir.length + 1)}: ${c.failed}`);
  }
  const steps = stepsFile
    ? readFileSync(stepsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t'))
    : [];
  for (const [name, , rc] of steps) {
    if (rc !== '0' && (failedBySubdir.get(name) ?? 0) === 0) {
      console.error(`step ${name} failed (exit ${rc}) with no failed test in its reports: counted as 1 failed`);
      failed += 1;
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
