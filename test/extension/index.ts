/**
 * Entry point that VS Code's extension host loads as `extensionTestsPath` (the shape that
 * @vscode/test-electron expects too): runs mocha on every out/test/extension/**\/*.test.js.
 *
 * Output goes to console.log (forwarded by the workbench) and, when the runner set
 * PHAR_ROLLOUT_TEST_REPORT, is appended to that file line by line, which the runner prints
 * live. PHAR_ROLLOUT_TEST_RESULTS receives a JSON summary; PHAR_ROLLOUT_TEST_GREP filters tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export interface ExtensionTestResults {
  passed: number;
  failed: number;
  skipped: number;
  failures: Array<{ title: string; message: string; stack?: string }>;
  durationMs: number;
}

function out(line: string): void {
  const report = process.env.PHAR_ROLLOUT_TEST_REPORT;
  if (report) {
    try {
      fs.appendFileSync(report, line + '\n');
    } catch {
      /* the console still gets it */
    }
  }
  console.log(line);
}

/**
 * Suites, each in its own workspace: "project" (the sample app copy, no rollout.json) runs the
 * files directly in this folder; "sandbox" (a project with live backends and an LB) runs sandbox/;
 * "untrusted" (the sample app in Restricted Mode) runs untrusted/.
 */
function testFiles(dir: string): string[] {
  const suite = process.env.PHAR_ROLLOUT_EXT_SUITE ?? 'project';
  const start = suite === 'project' ? dir : path.join(dir, suite);
  return fs.existsSync(start) ? filesUnder(start, suite !== 'project') : [];
}

function filesUnder(dir: string, recurse: boolean): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (recurse) found.push(...filesUnder(full, recurse));
    } else if (entry.isFile() && entry.name.endsWith('.test.js')) found.push(full);
  }
  return found.sort();
}

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

/** A spec-like reporter that writes whole lines through out(), and collects the results. */
function makeReporter(results: ExtensionTestResults) {
  return class LineReporter extends Mocha.reporters.Base {
    constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
      super(runner, options);
      let depth = 0;
      const pad = () => '  '.repeat(depth);
      runner.on(EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
        if (suite.root) return;
        out(`${pad()}${suite.title}`);
        depth++;
      });
      runner.on(EVENT_SUITE_END, (suite: Mocha.Suite) => {
        if (!suite.root) depth--;
      });
      runner.on(EVENT_TEST_PASS, (test: Mocha.Test) => {
        results.passed++;
        out(`${pad()}ok ${test.title} (${test.duration ?? 0} ms)`);
      });
      runner.on(EVENT_TEST_PENDING, (test: Mocha.Test) => {
        results.skipped++;
        out(`${pad()}skip ${test.title}`);
      });
      runner.on(EVENT_TEST_FAIL, (test: Mocha.Test, err: Error) => {
        results.failed++;
        const title = test.fullTitle();
        results.failures.push({ title, message: String(err?.message ?? err), stack: err?.stack });
        out(`${pad()}FAIL ${test.title}`);
      });
      runner.once(EVENT_RUN_END, () => {
        results.failures.forEach((f, i) => {
          out('');
          out(`${i + 1}) ${f.title}`);
          for (const line of (f.stack ?? f.message).split('\n')) out(`   ${line}`);
        });
        out('');
      });
    }
  };
}

export async function run(): Promise<void> {
  const started = Date.now();
  const results: ExtensionTestResults = { passed: 0, failed: 0, skipped: 0, failures: [], durationMs: 0 };
  const mocha = new Mocha({ ui: 'bdd', timeout: 120000, color: false });
  mocha.reporter(makeReporter(results));
  if (process.env.PHAR_ROLLOUT_TEST_GREP) mocha.grep(process.env.PHAR_ROLLOUT_TEST_GREP);

  const files = testFiles(__dirname);
  for (const file of files) mocha.addFile(file);

  const finish = () => {
    results.durationMs = Date.now() - started;
    out(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
    if (process.env.PHAR_ROLLOUT_TEST_RESULTS) {
      fs.writeFileSync(process.env.PHAR_ROLLOUT_TEST_RESULTS, JSON.stringify(results, null, 2) + '\n');
    }
  };

  if (files.length === 0) {
    finish();
    throw new Error(`no *.test.js files under ${__dirname}`);
  }

  let failures: number;
  try {
    failures = await new Promise<number>((resolve, reject) => {
      try {
        mocha.run((count) => resolve(count));
      } catch (err) {
        reject(err);
      }
    });
  } catch (err) {
    // A test file that throws while loading ends up here.
    results.failed++;
    results.failures.push({
      title: 'loading the test files',
      message: String((err as Error)?.message ?? err),
      stack: (err as Error)?.stack,
    });
    out(`error while loading the tests: ${(err as Error)?.stack ?? err}`);
    finish();
    throw err;
  }
  finish();
  if (failures > 0) throw new Error(`${failures} extension test(s) failed`);
}
