/**
 * PHP backends and artifacts for tests.
 *
 *   const artifact = await buildTestPhar({ dir, version: '1.0.0' });   // a real phar + manifest
 *   const b = await preparePhpBackend({ dir: path.join(tmp, 'web-1') }); // port picked, not started
 *   // config: { dir: b.dir, upstream: b.upstream, probe: b.probe, restart: b.restart }
 *   // the first deploy's restart hook starts php; after(): await b.stop()
 *
 * The phar answers every path with JSON {version, commit, app, sha256, method, bodyBytes} and an
 * X-App-Version header (like test/fixtures/sample-app's /__version), read from its own metadata;
 * sha256 is the hash of the phar file this process runs (a stale cache shows the old one).
 * GET or POST /slow answers after 300 ms. `mode: 'fpm'` runs a php-fpm pool instead of php -S.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Artifact, ArtifactManifest } from '../../src/core/phar/artifact';
import { run } from '../../src/core/exec/process';
import { isAlive, isGroupAlive, phpBackendCommand, readPid, writePhpBackendScript } from '../../src/core/sandbox/phpServer';
import type { PhpMode } from '../../src/core/sandbox/phpServer';
import { freePort } from '../../src/core/net/freePort';

const BUILD_PHP = `<?php
[$_, $out, $metaJson, $pad] = $argv;
@unlink($out);
$p = new Phar($out);
$p->startBuffering();
$p->addFromString('index.php', '<?php
$m = (new Phar(Phar::running(false)))->getMetadata();
header("X-App-Version: " . $m["version"]);
header("Content-Type: application/json");
$body = file_get_contents("php://input");
if (parse_url($_SERVER["REQUEST_URI"] ?? "/", PHP_URL_PATH) === "/slow") usleep(300000);
echo json_encode(["version" => $m["version"], "commit" => $m["commit"], "app" => $m["app"],
  "sha256" => hash_file("sha256", Phar::running(false)), "method" => $_SERVER["REQUEST_METHOD"] ?? "", "bodyBytes" => strlen((string) $body)]), "\\n";
');
if ((int)$pad > 0) $p->addFromString('pad.bin', random_bytes((int)$pad));
$p->setMetadata(json_decode($metaJson, true));
$p->setStub("<?php require 'phar://' . __FILE__ . '/index.php'; __HALT_COMPILER();");
$p->stopBuffering();
`;

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Wraps any file as an artifact in `<dir>/<id>/` (manifest.json written), like the artifact store. */
export async function artifactFromFile(
  file: string,
  meta: { dir: string; version: string; commit?: string; app?: string; id?: string },
): Promise<Artifact> {
  const app = meta.app ?? 'app';
  const commit = meta.commit ?? randomBytes(20).toString('hex');
  const sha256 = await sha256File(file);
  const id = meta.id ?? `${meta.version}-${commit.slice(0, 7)}-${sha256.slice(0, 8)}`;
  const artifactDir = path.join(meta.dir, id);
  await fs.mkdir(artifactDir, { recursive: true });
  const pharPath = path.join(artifactDir, `${app}.phar`);
  if (path.resolve(file) !== pharPath) await fs.rename(file, pharPath);
  const manifest: ArtifactManifest = {
    id,
    app,
    version: meta.version,
    commit,
    commitTime: new Date(0).toISOString(),
    sha256,
    size: (await fs.stat(pharPath)).size,
    builder: 'test',
    inputsHash: sha256,
    builtAt: new Date().toISOString(),
    phar: `${app}.phar`,
  };
  await fs.writeFile(path.join(artifactDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return { ...manifest, dir: artifactDir, pharPath };
}

/**
 * Builds a small phar that serves its version (see top of file) and returns it as an artifact
 * under `<dir>/<id>/`. `padBytes` adds incompressible bytes (for upload tests).
 */
export async function buildTestPhar(o: {
  dir: string;
  version: string;
  commit?: string;
  app?: string;
  padBytes?: number;
}): Promise<Artifact> {
  const app = o.app ?? 'app';
  const commit = o.commit ?? randomBytes(20).toString('hex');
  await fs.mkdir(o.dir, { recursive: true });
  const script = path.join(o.dir, 'build-test-phar.php');
  await fs.writeFile(script, BUILD_PHP);
  const tmp = path.join(o.dir, `build-${randomBytes(4).toString('hex')}.phar`);
  await run('php', ['-d', 'phar.readonly=0', script, tmp, JSON.stringify({ version: o.version, commit, app }), String(o.padBytes ?? 0)]);
  return artifactFromFile(tmp, { dir: o.dir, version: o.version, commit, app });
}

/** A file of random bytes wrapped as an artifact (not a phar: for uploads that must never be served). */
export async function dummyArtifact(o: { dir: string; version: string; bytes: number; app?: string }): Promise<Artifact> {
  await fs.mkdir(o.dir, { recursive: true });
  const tmp = path.join(o.dir, `dummy-${randomBytes(4).toString('hex')}.bin`);
  const handle = await fs.open(tmp, 'w');
  try {
    for (let left = o.bytes; left > 0; left -= 1 << 20) await handle.write(randomBytes(Math.min(left, 1 << 20)));
  } finally {
    await handle.close();
  }
  return artifactFromFile(tmp, { dir: o.dir, version: o.version, app: o.app });
}

export interface PhpBackend {
  /** Backend dir (releases/, current, php.pid, php.log). */
  dir: string;
  port: number;
  /** host:port for an nginx upstream. */
  upstream: string;
  /** http://127.0.0.1:PORT/__version (php -S; fpm speaks FastCGI on PORT: probe it through nginx). */
  probe: string;
  mode: PhpMode;
  /** The restart hook for rollout.json: stops php if it runs, starts it on `current`. */
  restart: string[];
  /** fpm only: a graceful reload (USR2), the fallback hook of the fpm runtime. */
  reload: string[];
  /** Stops php (as a hook step: a restart hook that fails after stopping). */
  stopCommand: string[];
  /** Starts php on the current release (also what the first deploy's restart hook does). */
  start(): Promise<void>;
  /** Stops php (the whole process group) and waits until it is gone; safe to call twice. */
  stop(): Promise<void>;
  pid(): Promise<number | undefined>;
}

/** Picks a free port and writes the control script; php starts with the first deploy (restart hook) or start(). */
export async function preparePhpBackend(o: { dir: string; port?: number; phar?: string; mode?: PhpMode }): Promise<PhpBackend> {
  const dir = path.resolve(o.dir);
  await fs.mkdir(dir, { recursive: true });
  const port = o.port ?? (await freePort());
  const phar = o.phar ?? 'app.phar';
  const script = await writePhpBackendScript(path.join(dir, '..'));
  const mode = o.mode ?? 'php-server';
  const cmd = (action: 'start' | 'stop' | 'restart' | 'reload') => phpBackendCommand(script, action, dir, port, phar, mode);
  const exec = async (action: 'start' | 'stop') => {
    const [c, ...args] = cmd(action);
    await run(c, args, { timeoutMs: 20000 });
  };
  return {
    dir,
    port,
    upstream: `127.0.0.1:${port}`,
    probe: `http://127.0.0.1:${port}/__version`,
    mode,
    restart: cmd('restart'),
    reload: cmd('reload'),
    stopCommand: cmd('stop'),
    start: () => exec('start'),
    stop: async () => {
      const pid = await readPid(path.join(dir, 'php.pid'));
      await exec('stop');
      if (pid && (isAlive(pid) || isGroupAlive(pid))) throw new Error(`php backend ${dir} (pid ${pid}) is still running`);
    },
    pid: () => readPid(path.join(dir, 'php.pid')),
  };
}
