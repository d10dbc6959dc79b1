import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CancelledError, inputErrorsOf, describeError } from './core/errors';
import type { Logger } from './core/log';
import { quoted } from './core/safeText';
import type { CliCommand, CliContext, CliOptions, CliValues } from './cli/cliCommand';
import { EXIT_BAD_INPUT, EXIT_FAILURE } from './cli/cliCommand';
import { terminalText } from './cli/cliHelpers';
import { commands } from './cli/commandTable';

function stderrLogger(verbose: boolean): Logger {
  // Log lines quote servers (nginx output, probe errors): made safe for the terminal here, once.
  const write = (prefix: string) => (m: string) => process.stderr.write(`${prefix}${terminalText(m)}\n`);
  return {
    info: write(''),
    warn: write('warning: '),
    error: write('error: '),
    debug: verbose ? write('debug: ') : () => undefined,
    output: verbose ? write('  ') : () => undefined,
  };
}

/** The PHP compiler ships beside dist/ (and beside out/src in tests). */
function findCompilerScript(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'php', 'compile.php');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.join(__dirname, '..', 'php', 'compile.php');
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: phar-rollout <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `phar-rollout <command> --help` for its options. Exit codes: 0 ok, 1 failure, 2 bad input.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : EXIT_BAD_INPUT;
  }
  const command: CliCommand | undefined = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`Unknown command ${quoted(name)}.\n\n${usage()}\n`);
    return EXIT_BAD_INPUT;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' }, verbose: { type: 'boolean', short: 'v' } },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`${terminalText((err as Error).message)}\n\nUsage: ${command.usage}\n`);
    return EXIT_BAD_INPUT;
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n`);
    return 0;
  }
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ctx: CliContext = {
    log: stderrLogger(Boolean(parsed.values.verbose)),
    stdout: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
    signal: controller.signal,
    compilerScript: findCompilerScript(),
  };
  try {
    return await command.run(parsed.values as CliValues<CliOptions>, parsed.positionals, ctx);
  } catch (err) {
    const located = inputErrorsOf(err);
    if (located.length) {
      for (const e of located) process.stderr.write(`${terminalText(e.format())}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof CancelledError) {
      // The core says where the load balancers are ("Cancelled, every load balancer is back on 5 %").
      process.stderr.write(`${terminalText(err.message.replace(/\.?$/, '.'))}\n`);
      return 130;
    }
    process.stderr.write(`error: ${terminalText(describeError(err))}\n`);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(EXIT_FAILURE);
  },
);
