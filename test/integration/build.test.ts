import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildProject } from '../../src/core/phar/pharBuild';
import type { BuildOptions } from '../../src/core/phar/pharBuild';
import { artifactsDir, listArtifacts, sha256File } from '../../src/core/phar/artifactStore';
import { CancelledError, InputErrors, OperationError } from '../../src/core/errors';
import type { InputError } from '../../src/core/errors';
import { run } from '../../src/core/exec/process';
import { addWorktree, removeWorktree } from '../../src/core/git/git';
import type { Logger } from '../../src/core/log';
import { waitFor } from '../helpers/wait';
import { freePort } from '../../src/core/net/freePort';
import { skipUnlessCi } from '../helpers/skip';
import { sampleGitEnv, sampleGitId, sampleRepo as commitSampleApp } from '../helpers/sampleApp';

const ROOT = path.resolve(__dirname, '../../..');
const COMPILER = path.join(ROOT, 'php/compile.php');

/** A logger that keeps every line, to assert what ran. */
function captureLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (prefix: string) => (m: string) => lines.push(prefix + m);
  return { lines, info: push(''), warn: push('warn: '), error: push('error: '), debug: push('debug: '), output: push('  ') };
}

async function have(cmd: string, args: string[]): Promise<boolean> {
  return run(cmd, args, { allowFailure: true, timeoutMs: 20000 }).then(
    (r) => r.code === 0,
    () => false,
  );
}

const tmpDirs: string[] = [];
async function tmpDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `build-it-${prefix}-`));
  tmpDirs.push(dir);
  return dir;
}

const gitEnv = sampleGitEnv;
const gitId = sampleGitId;

/** The sample app copied to a fresh folder, committed to a new git repository with fixed dates. */
async function sampleRepo(): Promise<{ dir: string; commit: string }> {
  const dir = await tmpDir('repo');
  return { dir, commit: await commitSampleApp(dir) };
}

async function cloneOf(repo: string): Promise<string> {
  const dir = path.join(await tmpDir('clone'), 'app');
  await run('git', ['clone', '-q', repo, dir]);
  return dir;
}

function build(projectDir: string, extra: Partial<BuildOptions> = {}) {
  const log = captureLog();
  return { log, result: buildProject({ projectDir, compilerScript: COMPILER, log, builder: 'builtin', ...extra }) };
}

async function inputErrors(promise: Promise<unknown>): Promise<InputError[]> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof InputErrors, `expected InputErrors, got ${(err as Error)?.stack ?? String(err)}`);
    return err.errors;
  }
  assert.fail('expected the build to be refused');
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** php -S with the phar as router script; stopped by the caller on every path. */
async function servePhar(pharPath: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn('php', ['-S', `127.0.0.1:${port}`, pharPath], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('php -S to answer', async () => (await fetch(`${url}/__version`)).ok, 10000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

describe('build (integration: php, composer, git)', function () {
  this.timeout(120000);

  before(async function () {
    for (const [cmd, args] of [
      ['php', ['-r', 'exit(extension_loaded("phar") && extension_loaded("zlib") ? 0 : 1);']],
      ['composer', ['--version']],
      ['git', ['--version']],
    ] as const) {
      if (!(await have(cmd, [...args]))) {
        skipUnlessCi(this, `${cmd} (with phar and zlib for php) is not available`);
      }
    }
  });

  after(async () => {
    await Promise.all(tmpDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
  });

  it('builds the sample app with the built-in compiler; php -S serves the phar and /__version answers from its metadata', async () => {
    const { dir, commit } = await sampleRepo();
    const { result, log } = build(dir);
    const { artifact, upToDate } = await result;
    assert.equal(upToDate, false);
    assert.equal(artifact.app, 'sample-app');
    assert.equal(artifact.version, '1.2.0');
    assert.equal(artifact.commit, commit);
    assert.equal(artifact.commitTime, '2024-01-02T03:04:05.000Z');
    assert.equal(artifact.builder, 'builtin');
    assert.equal(artifact.dirty, false);
    assert.equal(artifact.id, `1.2.0-${commit.slice(0, 7)}-${artifact.sha256.slice(0, 8)}`);
    assert.equal(artifact.pharPath, path.join(artifactsDir(dir), artifact.id, 'sample-app.phar'));
    assert.equal(await sha256File(artifact.pharPath), artifact.sha256);
    assert.equal((await fs.stat(artifact.pharPath)).size, artifact.size);
    assert.equal((await fs.stat(artifact.pharPath)).mode & 0o777, 0o755, 'box.json chmod');
    assert.deepEqual(JSON.parse(await fs.readFile(path.join(artifact.dir, 'manifest.json'), 'utf8')).sha256, artifact.sha256);
    assert.ok(
      log.lines.some((l) => l.startsWith('$ composer install')),
      log.lines.join('\n'),
    );
    assert.ok(!log.lines.some((l) => l.startsWith('warn:')), log.lines.join('\n'));

    // A backend layout: <b>/releases/<id>/sample-app.phar with current -> releases/<id>.
    const backend = await tmpDir('backend');
    const release = path.join(backend, 'releases', artifact.id);
    await fs.mkdir(release, { recursive: true });
    await fs.copyFile(artifact.pharPath, path.join(release, 'sample-app.phar'));
    await fs.symlink(path.join('releases', artifact.id), path.join(backend, 'current'));
    const server = await servePhar(path.join(backend, 'current', 'sample-app.phar'));
    try {
      const res = await fetch(`${server.url}/__version`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-app-version'), '1.2.0');
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.version, '1.2.0');
      assert.equal(body.commit, commit);
      assert.equal(body.app, 'sample-app');
      assert.equal(body.commitTime, '2024-01-02T03:04:05.000Z');

      const home = await fetch(`${server.url}/`);
      assert.equal(home.status, 200);
      const html = await home.text();
      assert.match(html, /<strong id="version">1\.2\.0<\/strong>/);
      assert.match(html, /<title>Acme Sample App<\/title>/, 'replacements placeholder');
      assert.match(html, /built 2024-01-02 03:04:05 UTC/, 'datetime placeholder is the commit time');

      assert.equal((await fetch(`${server.url}/__fail`)).status, 500);
      await fs.writeFile(path.join(backend, 'FAIL'), '');
      assert.equal((await fetch(`${server.url}/`)).status, 500, 'current/../FAIL makes requests fail');
      assert.equal((await fetch(`${server.url}/__version`)).status, 200, '/__version keeps answering');
      await fs.rm(path.join(backend, 'FAIL'));
      assert.equal((await fetch(`${server.url}/`)).status, 200);
    } finally {
      await server.stop();
    }
  });

  it('gives the same sha256 from two separate clones of one commit', async () => {
    const { dir } = await sampleRepo();
    const [a, b] = [await cloneOf(dir), await cloneOf(dir)];
    const first = (await build(a).result).artifact;
    const second = (await build(b).result).artifact;
    assert.equal(second.sha256, first.sha256);
    assert.equal(second.id, first.id);
    assert.equal(second.inputsHash, first.inputsHash);
    assert.deepEqual(await fs.readFile(second.pharPath), await fs.readFile(first.pharPath));
  });

  it('does not rebuild unchanged inputs: no composer, no php; --force and an edit do rebuild', async () => {
    const { dir } = await sampleRepo();
    const first = (await build(dir).result).artifact;

    // Only git is reachable now: a composer or php run would leave a marker and fail.
    const bin = await tmpDir('bin');
    const marker = path.join(bin, 'ran');
    for (const tool of ['composer', 'php']) {
      await fs.writeFile(path.join(bin, tool), `#!/bin/sh\necho ${tool} >> '${marker}'\nexit 1\n`, { mode: 0o755 });
    }
    await fs.symlink((await run('sh', ['-c', 'command -v git'])).stdout.trim(), path.join(bin, 'git'));
    const savedPath = process.env.PATH;
    process.env.PATH = bin;
    let again;
    try {
      again = build(dir);
      const { artifact, upToDate } = await again.result;
      assert.equal(upToDate, true);
      assert.equal(artifact.id, first.id);
      assert.equal(artifact.builtAt, first.builtAt);
    } finally {
      process.env.PATH = savedPath;
    }
    assert.equal(await exists(marker), false, 'composer or php ran for an up-to-date build');
    assert.ok(
      again.log.lines.some((l) => l.startsWith('Up to date:')),
      again.log.lines.join('\n'),
    );

    const forced = await build(dir, { force: true }).result;
    assert.equal(forced.upToDate, false);
    assert.equal(forced.artifact.sha256, first.sha256, 'a forced rebuild of the same inputs is byte-identical');
    assert.equal((await listArtifacts(dir)).length, 1);

    await fs.appendFile(path.join(dir, 'src', 'Page.php'), '// edited\n');
    const edited = await build(dir).result;
    assert.equal(edited.upToDate, false);
    assert.equal(edited.artifact.dirty, true);
    assert.notEqual(edited.artifact.sha256, first.sha256);
    assert.deepEqual(
      (await listArtifacts(dir)).map((a) => a.id),
      [edited.artifact.id, first.id],
    );
  });

  it('with composer skipped, vendor/ is an input: an edit there rebuilds, as does a file added to a listed folder', async () => {
    const { dir } = await sampleRepo();
    await build(dir).result; // composer install writes vendor/
    const skipped = (await build(dir, { composerArgs: [] }).result).artifact;
    assert.equal((await build(dir, { composerArgs: [] }).result).upToDate, true);

    await fs.appendFile(path.join(dir, 'vendor', 'autoload.php'), '// edited by hand\n');
    const edited = await build(dir, { composerArgs: [] }).result;
    assert.equal(edited.upToDate, false, 'a vendor edit was not seen');
    assert.notEqual(edited.artifact.sha256, skipped.sha256);

    await fs.writeFile(path.join(dir, 'vendor', 'composer', 'extra.php'), '<?php // new\n');
    const added = await build(dir, { composerArgs: [] }).result;
    assert.equal(added.upToDate, false, 'a new vendor file was not seen');
    assert.notEqual(added.artifact.sha256, edited.artifact.sha256);
  });

  describe('bad input: located errors, nothing run, nothing written', () => {
    let dir: string;
    beforeEach(async () => {
      dir = (await sampleRepo()).dir;
    });
    const nothingWritten = async () => {
      assert.equal(await exists(path.join(dir, '.rollout')), false, '.rollout was created');
      assert.equal(await exists(path.join(dir, 'vendor')), false, 'composer ran');
    };
    const at = (errs: InputError[], file: string) =>
      errs.filter((e) => e.location?.file === path.join(dir, file)).map((e) => [e.location?.line, e.location?.column, e.message]);

    it('box.json: an unsupported key and a wrong type', async () => {
      await fs.writeFile(
        path.join(dir, 'box.json'),
        '{\n    "main": "index.php",\n    "compactors": ["KevinGH\\\\Box\\\\Compactor\\\\Php"],\n    "directories": "src"\n}\n',
      );
      const errs = await inputErrors(build(dir).result);
      assert.deepEqual(at(errs, 'box.json'), [
        [3, 5, 'box.json key "compactors" is not supported by the built-in compiler'],
        [4, 20, '"directories" must be a list of strings, got string "src"'],
      ]);
      assert.match(
        errs[0].format(),
        /box\.json:3:5: .* — remove it, or install box \(vendor\/bin\/box, PATH, or the pharRollout\.boxPath setting\)$/,
      );
      await nothingWritten();
    });

    it('box.json: a listed file that does not exist', async () => {
      await fs.writeFile(
        path.join(dir, 'box.json'),
        '{\n  "main": "index.php",\n  "directories": ["src", "vendor"],\n  "files": ["LICENSE", "NOTICE"]\n}\n',
      );
      const errs = await inputErrors(build(dir).result);
      assert.deepEqual(at(errs, 'box.json'), [[4, 24, `File NOTICE does not exist in ${dir}`]]);
      await nothingWritten();
    });

    it('composer.json: an invalid version', async () => {
      const text = await fs.readFile(path.join(dir, 'composer.json'), 'utf8');
      await fs.writeFile(path.join(dir, 'composer.json'), text.replace('"version": "1.2.0"', '"version": "one.two"'));
      const errs = await inputErrors(build(dir).result);
      assert.deepEqual(at(errs, 'composer.json'), [[5, 16, '"version" is not a valid version: "one.two"']]);
      await nothingWritten();
    });

    it('rollout.json: a wrong build section, reported together with box.json problems', async () => {
      await fs.writeFile(
        path.join(dir, 'rollout.json'),
        '{\n  // build settings\n  "build": { "composer": "install" },\n  "backends": [{ "name": "web-1", "group": "stable", "upstream": "127.0.0.1:9001", "dir": "srv" }]\n}\n',
      );
      await fs.writeFile(path.join(dir, 'box.json'), '{ "key": "private.pem" }');
      const errs = await inputErrors(build(dir).result);
      assert.deepEqual(
        at(errs, 'rollout.json').map(([line, column]) => [line, column]),
        [[3, 26]],
      );
      assert.deepEqual(at(errs, 'box.json'), [[1, 3, 'box.json key "key" is not supported by the built-in compiler']]);
      await nothingWritten();
    });
  });

  it('writes box.json "output" too, after the artifact store; an up-to-date build puts it back', async () => {
    const { dir } = await sampleRepo();
    const output = path.join(dir, 'build', 'sample-app.phar');
    const first = await build(dir).result;
    assert.deepEqual(await fs.readFile(output), await fs.readFile(first.artifact.pharPath));
    assert.equal((await fs.stat(output)).mode & 0o777, 0o755, 'chmod like the stored phar');
    await fs.writeFile(output, '<?php __HALT_COMPILER(); ?>\r\nan older phar');
    const again = await build(dir).result;
    assert.equal(again.upToDate, true, 'the output phar is not an input');
    assert.equal(again.artifact.dirty, false);
    assert.equal(await sha256File(output), first.artifact.sha256);
    assert.deepEqual((await fs.readdir(path.dirname(output))).sort(), ['sample-app.phar'], 'no temporary file left');
    // An "output" naming something that is not a phar is never overwritten; the stored artifact stands.
    await fs.writeFile(output, '<?php echo "my own script";\n');
    await assert.rejects(build(dir).result, (err: unknown) => {
      assert.ok(err instanceof OperationError);
      assert.equal(
        err.message,
        `Built ${first.artifact.id}, but did not write box.json's output ${output}: something other than a phar is there`,
      );
      return true;
    });
    assert.equal(await fs.readFile(output, 'utf8'), '<?php echo "my own script";\n');
    assert.equal(await sha256File(first.artifact.pharPath), first.artifact.sha256);
  });

  it('accepts a custom stub ending in lowercase __halt_compiler(); as PHP does', async () => {
    const { dir } = await sampleRepo();
    const box = JSON.parse(await fs.readFile(path.join(dir, 'box.json'), 'utf8')) as Record<string, unknown>;
    await fs.writeFile(
      path.join(dir, 'stub.php'),
      "#!/usr/bin/env php\n<?php\nPhar::mapPhar('sample-app.phar');\necho json_encode(file_exists('phar://sample-app.phar/LICENSE') ? 'stub ran' : 'no phar');\n__halt_compiler();\n",
    );
    await fs.writeFile(
      path.join(dir, 'box.json'),
      JSON.stringify({ ...box, stub: 'stub.php', main: false, files: ['LICENSE', 'stub.php'] }),
    );
    const { artifact } = await build(dir).result;
    const ran = await run('php', [artifact.pharPath]);
    assert.equal(ran.stdout, '"stub ran"', 'Phar::mapPhar finds the marker');
    const listed = await run('php', ['-r', `echo count(new Phar(${JSON.stringify(artifact.pharPath)}));`]);
    assert.ok(Number(listed.stdout) > 3, listed.stdout);
  });

  it('rebuilds an old tag in a separate git worktree byte-identically, leaving the work tree alone', async () => {
    const { dir, commit } = await sampleRepo();
    await run('git', [...gitId, 'tag', 'v1.2.0'], { cwd: dir, env: gitEnv });
    const original = (await build(dir).result).artifact;
    // The user moves on: a new version, committed, plus an uncommitted edit.
    const composerJson = path.join(dir, 'composer.json');
    await fs.writeFile(composerJson, (await fs.readFile(composerJson, 'utf8')).replace('"1.2.0"', '"1.3.0"'));
    await run('git', [...gitId, 'commit', '-q', '-am', '1.3.0'], {
      cwd: dir,
      env: { ...gitEnv, GIT_COMMITTER_DATE: '2024-02-01T00:00:00Z' },
    });
    await fs.appendFile(path.join(dir, 'src', 'App.php'), '// work in progress\n');
    const statusBefore = (await run('git', ['status', '--porcelain'], { cwd: dir })).stdout;

    const worktree = path.join(await tmpDir('worktree'), 'src');
    await addWorktree(dir, 'v1.2.0', worktree);
    try {
      const rebuilt = (await build(worktree).result).artifact;
      assert.equal(rebuilt.commit, commit);
      assert.equal(rebuilt.version, '1.2.0');
      assert.equal(rebuilt.sha256, original.sha256);
    } finally {
      await removeWorktree(dir, worktree);
    }
    assert.equal(await exists(worktree), false);
    assert.equal((await run('git', ['worktree', 'list', '--porcelain'], { cwd: dir })).stdout.match(/^worktree /gm)?.length, 1);
    assert.equal((await run('git', ['status', '--porcelain'], { cwd: dir })).stdout, statusBefore);
    assert.match(await fs.readFile(composerJson, 'utf8'), /"version": "1\.3\.0"/);
    assert.match(await fs.readFile(path.join(dir, 'src', 'App.php'), 'utf8'), /work in progress/);
  });

  it('leaves no artifact folder behind when cancelled while compiling', async () => {
    const { dir } = await sampleRepo();
    const controller = new AbortController();
    const { result } = build(dir, {
      signal: controller.signal,
      onProgress: (message) => {
        if (message.startsWith('adding ')) controller.abort();
      },
    });
    await assert.rejects(result, CancelledError);
    assert.deepEqual(await fs.readdir(artifactsDir(dir)), []);
  });

  it('reports a compiler failure with its message and leaves no artifact folder', async () => {
    const { dir } = await sampleRepo();
    const broken = path.join(await tmpDir('compiler'), 'compile.php');
    await fs.writeFile(broken, '<?php\nfwrite(STDERR, "compile.php: error: disk full (simulated)\\n");\nexit(1);\n');
    await assert.rejects(build(dir, { compilerScript: broken }).result, (err: Error) => {
      assert.ok(err instanceof OperationError, String(err));
      assert.equal(err.step, 'compile');
      assert.match(err.message, /disk full \(simulated\)/);
      return true;
    });
    assert.deepEqual(await fs.readdir(artifactsDir(dir)), []);
  });

  it('uses box when vendor/bin/box exists, accepting keys only box knows', async () => {
    const { dir } = await sampleRepo();
    await fs.mkdir(path.join(dir, 'vendor', 'bin'), { recursive: true });
    // A stand-in for box: answers --version and writes box.json's output on "compile".
    await fs.writeFile(
      path.join(dir, 'vendor', 'bin', 'box'),
      [
        '#!/usr/bin/env php',
        '<?php',
        'if (in_array("--version", $argv, true)) { echo "Box version 4.6.1@abcdef\\n"; exit(0); }',
        'if (($argv[1] ?? "") !== "compile") { fwrite(STDERR, "unexpected arguments\\n"); exit(1); }',
        '$out = json_decode(file_get_contents("box.json"), true)["output"];',
        '@mkdir(dirname($out), 0777, true);',
        'file_put_contents($out, "phar made by the box stand-in\\n");',
        'echo "Building the PHAR \\"$out\\"\\n";',
      ].join('\n'),
    );
    const box = JSON.parse(await fs.readFile(path.join(dir, 'box.json'), 'utf8')) as Record<string, unknown>;
    await fs.writeFile(path.join(dir, 'box.json'), JSON.stringify({ ...box, compactors: ['KevinGH\\Box\\Compactor\\Php'] }, null, 2));
    const { result, log } = build(dir, { builder: 'auto' });
    const { artifact } = await result;
    assert.equal(artifact.builder, 'box 4.6.1');
    assert.equal(await fs.readFile(artifact.pharPath, 'utf8'), 'phar made by the box stand-in\n');
    assert.ok(
      log.lines.some((l) => l.includes('Building the PHAR')),
      log.lines.join('\n'),
    );
  });

  describe('CLI: phar-rollout build', () => {
    let cli: string;
    before(async () => {
      // Bundle the CLI like the release does (jsonc-parser needs its ESM entry in a bundle).
      const esbuild = await import('esbuild');
      cli = path.join(ROOT, 'out', `cli-build-test-${process.pid}`, 'cli.js');
      await esbuild.build({
        entryPoints: [path.join(ROOT, 'src/cli.ts')],
        bundle: true,
        platform: 'node',
        target: 'node20',
        mainFields: ['module', 'main'],
        outfile: cli,
        logLevel: 'warning',
      });
    });
    after(async () => {
      if (cli) await fs.rm(path.dirname(cli), { recursive: true, force: true });
    });

    const cliRun = (args: string[]) => run('node', [cli, 'build', ...args], { allowFailure: true, timeoutMs: 60000 });

    it('build --json twice gives the same sha256, the second up to date', async () => {
      const { dir, commit } = await sampleRepo();
      const first = await cliRun(['--project', dir, '--json', '--builtin']);
      assert.equal(first.code, 0, first.stderr);
      const a = JSON.parse(first.stdout) as Record<string, unknown>;
      assert.equal(a.upToDate, false);
      assert.equal(a.commit, commit);
      assert.equal(a.pharPath, path.join(artifactsDir(dir), String(a.id), 'sample-app.phar'));
      const second = await cliRun(['--project', dir, '--json', '--builtin']);
      assert.equal(second.code, 0, second.stderr);
      const b = JSON.parse(second.stdout) as Record<string, unknown>;
      assert.equal(b.upToDate, true);
      assert.equal(b.sha256, a.sha256);
      assert.equal(b.id, a.id);
    });

    it('exits 2 at the duplicate key of rollout.json, and for 10,000-deep nesting in each of the three files', async () => {
      const { dir } = await sampleRepo();
      const backends = '"backends": [{ "name": "web-1", "group": "stable", "upstream": "127.0.0.1:9001", "dir": "srv" }]';
      await fs.writeFile(path.join(dir, 'rollout.json'), `{\n  "app": "a",\n  ${backends},\n  "app": "b"\n}\n`);
      const dup = await cliRun(['--project', dir, '--builtin']);
      assert.equal(dup.code, 2, dup.stderr);
      assert.ok(dup.stderr.includes(`${path.join(dir, 'rollout.json')}:4:3: Duplicate key "app" (first at line 2, column 3)`), dup.stderr);
      await fs.rm(path.join(dir, 'rollout.json'));
      const deep = `{"extra": ${'['.repeat(10000)}${']'.repeat(10000)}}`;
      for (const name of ['rollout.json', 'box.json', 'composer.json']) {
        const original = await fs.readFile(path.join(dir, name), 'utf8').catch(() => undefined);
        await fs.writeFile(path.join(dir, name), deep);
        const r = await cliRun(['--project', dir, '--builtin']);
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.ok(r.stderr.includes(`${path.join(dir, name)}:1:266: Objects and arrays are nested deeper than 256 levels`), r.stderr);
        assert.ok(!r.stderr.includes('Maximum call stack'), r.stderr);
        if (original === undefined) await fs.rm(path.join(dir, name));
        else await fs.writeFile(path.join(dir, name), original);
      }
      assert.equal(await exists(path.join(dir, '.rollout')), false);
    });

    it('exits 2 with file:line:column on stderr for bad input', async () => {
      const { dir } = await sampleRepo();
      await fs.writeFile(path.join(dir, 'box.json'), '{\n  "main": "index.php",\n  "map": [{ "src": "lib" }]\n}\n');
      const r = await cliRun(['--project', dir, '--json', '--builtin']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.ok(
        r.stderr.includes(`${path.join(dir, 'box.json')}:3:3: box.json key "map" is not supported by the built-in compiler`),
        r.stderr,
      );
      assert.equal(await exists(path.join(dir, '.rollout')), false);
    });
  });
});
