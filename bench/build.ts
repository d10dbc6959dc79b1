/**
 * Build benchmark: the built-in compiler (reproducible: sorted entries, fixed timestamps, re-signed)
 * against a plain Phar API build of the same files measured in the same run, plus the cost of an
 * up-to-date check (read the configuration and git, stat the inputs against .rollout/file-hashes.json,
 * find the stored artifact, verify its sha256). Each built-in round is cold: the stat cache is removed first.
 * Goals (issue 7): built-in ≤ 1.2× the plain build, up-to-date check ≤ 0.05× a whole built-in build.
 *
 *   npm run build-tests && node out/bench/build.js [files=2000] [rounds=3]
 *
 * Prints medians and ratios; exits non-zero only when something fails.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FILE_HASHES, buildProject } from '../src/core/phar/pharBuild';
import { ROLLOUT_DIR } from '../src/core/phar/artifact';
import { run } from '../src/core/exec/process';
import { nullLogger } from '../src/core/log';

const ROOT = path.resolve(__dirname, '../..');
const COMPILER = path.join(ROOT, 'php/compile.php');

const PLAIN_PHAR = `<?php
[$_, $out, $dir] = $argv;
@unlink($out);
$p = new Phar($out);
$p->startBuffering();
$p->buildFromDirectory($dir, '{^' . preg_quote($dir, '{') . '/(src|vendor)/|index\\.php$}');
$p->setStub("#!/usr/bin/env php\\n<?php Phar::mapPhar('bench.phar'); require 'phar://bench.phar/index.php'; __HALT_COMPILER(); ?>\\n");
$p->setSignatureAlgorithm(Phar::SHA256);
$p->stopBuffering();
$p->compressFiles(Phar::GZ);
`;

async function makeProject(dir: string, files: number): Promise<void> {
  await fs.mkdir(path.join(dir, 'src'), { recursive: true });
  await fs.writeFile(
    path.join(dir, 'composer.json'),
    JSON.stringify(
      {
        name: 'acme/bench',
        version: '1.0.0',
        require: { php: '>=8.1' },
        autoload: { 'psr-4': { 'Acme\\Bench\\': 'src/' } },
        config: { 'autoloader-suffix': 'AcmeBench' },
      },
      null,
      2,
    ),
  );
  await fs.writeFile(path.join(dir, 'index.php'), "<?php\nrequire __DIR__ . '/vendor/autoload.php';\necho 'ok';\n");
  await fs.writeFile(path.join(dir, 'box.json'), JSON.stringify({ main: 'index.php', directories: ['src', 'vendor'], compression: 'GZ' }));
  const body = Array.from({ length: 40 }, (_, i) => `    public function m${i}(int $x): int { return $x * ${i} + 1; }`).join('\n');
  for (let i = 0; i < files; i++) {
    await fs.writeFile(path.join(dir, 'src', `C${i}.php`), `<?php\n\nnamespace Acme\\Bench;\n\nfinal class C${i}\n{\n${body}\n}\n`);
  }
  const env = { GIT_AUTHOR_DATE: '2024-01-02T03:04:05Z', GIT_COMMITTER_DATE: '2024-01-02T03:04:05Z' };
  await run('composer', ['install', '--no-dev', '--optimize-autoloader', '--no-interaction', '--quiet'], { cwd: dir });
  await fs.writeFile(path.join(dir, '.gitignore'), 'vendor/\n.rollout/\n');
  await run('git', ['init', '-q'], { cwd: dir });
  await run('git', ['add', '-A'], { cwd: dir });
  await run(
    'git',
    ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'bench'],
    { cwd: dir, env },
  );
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const files = Number(process.argv[2] ?? 2000);
  const rounds = Number(process.argv[3] ?? 3);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-build-'));
  try {
    const project = path.join(tmp, 'project');
    await makeProject(project, files);
    const plainScript = path.join(tmp, 'plain.php');
    await fs.writeFile(plainScript, PLAIN_PHAR);
    const options = { projectDir: project, compilerScript: COMPILER, log: nullLogger, builder: 'builtin' as const, composerArgs: [] };

    const plain: number[] = [];
    const builtin: number[] = [];
    const cached: number[] = [];
    let sha = '';
    for (let r = 0; r < rounds; r++) {
      plain.push(await time(() => run('php', ['-d', 'phar.readonly=0', plainScript, path.join(tmp, 'plain.phar'), project])));
      await fs.rm(path.join(project, ROLLOUT_DIR, FILE_HASHES), { force: true });
      builtin.push(
        await time(async () => {
          const { artifact } = await buildProject({ ...options, force: true });
          if (sha && artifact.sha256 !== sha) throw new Error(`round ${r} gave ${artifact.sha256}, earlier ${sha}: not reproducible`);
          sha = artifact.sha256;
        }),
      );
      cached.push(
        await time(async () => {
          const { upToDate } = await buildProject(options);
          if (!upToDate) throw new Error('the unchanged project was rebuilt');
        }),
      );
    }
    const size = (await fs.stat(path.join(tmp, 'plain.phar'))).size;
    const b = median(builtin);
    const p = median(plain);
    const c = median(cached);
    console.log(
      `build bench: ${files} PHP files + composer autoloader, GZ, ${rounds} rounds (medians), phar ${(size / 1024).toFixed(0)} KiB`,
    );
    console.log(`  plain Phar API build (baseline, not reproducible): ${p.toFixed(0)} ms`);
    console.log(
      `  phar-rollout built-in build, cold (hash inputs + select + compile + normalize + store): ${b.toFixed(0)} ms  ratio ${(b / p).toFixed(2)}x baseline (goal <= 1.2x)`,
    );
    console.log(
      `  up-to-date check (config + git + stat inputs + verify stored sha256): ${c.toFixed(0)} ms  ratio ${(c / b).toFixed(3)}x a whole build (goal <= 0.05x), ${(c / p).toFixed(3)}x baseline`,
    );
    console.log(`  every built-in round gave sha256 ${sha.slice(0, 16)}…`);
  } finally {
    if (!process.env.KEEP) await fs.rm(tmp, { recursive: true, force: true });
    else console.log(tmp);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
