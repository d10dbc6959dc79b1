import { InputError } from '../core/errors';
import { verifySplit } from '../core/rollout/verifySplit';
import { formatSplit } from '../core/traffic/render';
import { EXIT_OK, defineCommand, jsonOption, projectOption } from './cliCommand';
import { cliOptions, projectConfig } from './cliHelpers';
import { safeText } from '../core/safeText';

/** `phar-rollout verify-split`: N requests through each LB's url, version shares vs the split. */
export const verifySplitCommand = defineCommand({
  name: 'verify-split',
  summary: "Send N requests through each load balancer's url and compare the versions served with the split",
  usage: 'phar-rollout verify-split --project DIR --requests N [--json]',
  options: { ...projectOption, requests: { type: 'string', short: 'n' }, ...jsonOption },
  async run(values, _positionals, ctx) {
    const text = values.requests ?? '200';
    if (!/^\d+$/.test(text)) throw new InputError(`--requests "${text}" is not a whole number`);
    const result = await verifySplit(await projectConfig(values), { requests: Number(text) }, cliOptions(ctx));
    if (values.json) {
      ctx.stdout(JSON.stringify(result, null, 2));
      return EXIT_OK;
    }
    for (const lb of result.loadBalancers) {
      const head = `${lb.lb}: configured ${lb.configured === undefined ? '?' : formatSplit(lb.configured)} % canary`;
      const seen =
        lb.canaryShare === undefined
          ? ''
          : `, observed ${lb.canaryShare} % (${lb.deviation !== undefined && lb.deviation >= 0 ? '+' : ''}${lb.deviation ?? '?'} points) over ${lb.requests} requests`;
      ctx.stdout(head + seen + (lb.errors ? `, ${lb.errors} failed` : ''));
      for (const v of lb.versions)
        ctx.stdout(
          `  ${safeText(v.version, 40).padEnd(16)} ${String(v.count).padStart(6)}  ${v.share.toFixed(2).padStart(6)} %  ${v.side ?? 'unknown'}`,
        );
      if (lb.note) ctx.stdout(`  note: ${safeText(lb.note)}`);
    }
    return EXIT_OK;
  },
});
