/**
 * A child process for the crash tests (test/integration/trafficTruth.test.ts): applies one split
 * with the configuration in argv[2] (JSON) and prints "done". The test SIGKILLs it at a phase.
 *
 *   node out/bench/trafficChild.js CONFIG.json SPLIT
 */
import { readFileSync } from 'node:fs';
import { LocalTransport } from '../src/core/exec/localTransport';
import { applySplit } from '../src/core/traffic/apply';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const local = new LocalTransport();
applySplit(config, Number(process.argv[3]), () => local, { owner: 'child@example.com' }).then(
  () => console.log('done'),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
