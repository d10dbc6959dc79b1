/**
 * Time from a canary starting to fail to 0 % canary traffic under the runner, against the time of
 * one confirmed reload (a ramp's split change) measured in the same run. Goal: ≤ one analysis
 * interval + 1.5 × a confirmed reload (printed as a ratio, goal ≤ 1).
 *
 *   npm run build-tests && node out/bench/analysisRollback.js [rounds=3] [interval=2s]
 *
 * Real nginx, php backends serving the sample app, a steady request stream on fresh connections.
 * The time ends when the runner returns, after the split is 0 % on every LB (and the history written).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startLab } from './trafficLab';
import { runRollout } from '../src/core/rollout/run';
import { ramp } from '../src/core/rollout/ramp';
import { rollback } from '../src/core/rollout/rollback';
import { parseDuration } from '../src/core/analysis/analysisConfig';
import { startLoad } from '../test/helpers/loadClient';
import { buildSampleApp } from '../test/helpers/sampleApp';

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const interval = process.argv[3] ?? '2s';
  const intervalMs = parseDuration(interval)!;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-rollback-'));
  const artifact = await buildSampleApp(tmp);
  const lab = await startLab({
    artifacts: { stable: artifact, canary: artifact },
    rollout: { traffic: { steps: [{ weight: 50, observe: '10m' }] }, analysis: { interval, observe: '10m', minRequests: 20 } },
  });
  const user = 'bench@example.invalid';
  const failFile = path.join(lab.backends.get('canary-1')!.dir, 'FAIL');
  try {
    const reloads: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Baseline: one confirmed split change (test, reload, read back) in this run.
      const t0 = performance.now();
      await ramp(lab.config, { percent: 10 }, { user, gate: false });
      reloads.push(performance.now() - t0);
      await rollback(lab.config, { speed: 'traffic' }, { user });

      const load = startLoad({ url: `${lab.lbs[0].url}/checkout`, concurrency: 4, maxDurationMs: 120000 });
      let failAt = 0;
      const runner = runRollout(lab.config, {
        user,
        precheck: false,
        onStep: (_s, phase) => {
          if (phase !== 'live') return;
          // The canary starts failing at a random moment of the first window.
          setTimeout(() => {
            failAt = performance.now();
            void fs.writeFile(failFile, '0.5\n');
          }, Math.random() * intervalMs);
        },
      });
      const result = await runner;
      const rolledAt = performance.now();
      await load.stop();
      await fs.rm(failFile, { force: true });
      if (result.result !== 'rolled-back') throw new Error(`round ${i + 1}: ${result.result} ${result.reason ?? ''}`);
      const took = rolledAt - failAt;
      const reload = reloads[reloads.length - 1];
      const bound = intervalMs + 1.5 * reload;
      ratios.push(took / bound);
      console.log(
        `round ${i + 1}: failing → 0 % in ${Math.round(took)} ms; interval ${intervalMs} ms + 1.5 × confirmed reload ${Math.round(reload)} ms = ${Math.round(bound)} ms: ` +
          `ratio ${(took / bound).toFixed(2)} (goal ≤ 1)`,
      );
      // A new rollout for the next round.
      await fs.rm(path.join(lab.projectDir, '.rollout', 'state.json'), { force: true });
    }
    ratios.sort((a, b) => a - b);
    console.log(
      `worst ratio over ${rounds} rounds: ${ratios[ratios.length - 1].toFixed(2)} (goal ≤ 1: t ≤ interval + 1.5 × a confirmed reload)`,
    );
  } finally {
    await lab.stop();
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
