/**
 * Quotes one argument for a POSIX shell (sh, bash, dash) so that it is passed literally.
 * Single quotes turn off every expansion; a single quote inside is written as '\''.
 */
export function quoteArg(arg: string): string {
  if (arg.includes('\0')) throw new Error('An argument cannot contain a NUL byte');
  if (arg !== '' && /^[A-Za-z0-9_/.,:=@%+-]+$/.test(arg) && !arg.startsWith('-') && !arg.startsWith('~')) {
    // Plain words need no quotes; keeps logs readable. A leading dash is still quoted (harmless) so
    // the rule stays one rule; it is the caller's `--` that guards options.
    return arg;
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one function that turns an argument array into a remote shell command line.
 * Every remote command goes through here; see test/unit/quote.test.ts for the hostile inputs it resists.
 */
export function shellCommand(args: readonly string[]): string {
  if (args.length === 0) throw new Error('Empty command');
  return args.map(quoteArg).join(' ');
}
