import * as assert from 'node:assert/strict';
import { commands } from '../../src/cli/commandTable';

/** One flag as `--name`, `=string` for a value, `*` when repeatable, then its short form. */
function flags(options: Record<string, { type: string; short?: string; multiple?: boolean }>): string {
  return Object.entries(options)
    .map(([k, o]) => `--${k}${o.type === 'string' ? '=string' : ''}${o.multiple ? '*' : ''}${o.short ? `/-${o.short}` : ''}`)
    .join(' ');
}

describe('CLI verbs', () => {
  it('keep every flag, its type and short form (typed option sets on top of parseArgs)', () => {
    assert.deepEqual(Object.fromEntries(commands.map((c) => [c.name, flags(c.options)])), {
      build: '--project=string/-p --json --force --builtin --box=string',
      deploy: '--project=string/-p --artifact=string/-a --group=string/-g --backend=string*/-b --json',
      status: '--project=string/-p --json',
      ramp: '--project=string/-p --next --all --no-gate --skip-preflight --dry-run --json',
      promote: '--project=string/-p --json',
      rollback: '--project=string/-p --traffic --release --rebuild=string --group=string --json',
      run: '--project=string/-p --no-precheck --json',
      pause: '--project=string/-p --json',
      resume: '--project=string/-p --json',
      'verify-split': '--project=string/-p --requests=string/-n --json',
      history: '--project=string/-p --limit=string --json',
      unlock: '--project=string/-p --force --json',
      recover: '--project=string/-p --json',
      sandbox: '--dir=string/-d --project=string --php=string --json',
    });
  });
});
