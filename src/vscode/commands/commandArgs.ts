/**
 * The second argument of a command run from a script, a test or a keybinding (`{ percent: 25 }`),
 * checked against the fields the command takes: a wrong type or an unknown key is refused by name
 * instead of reaching the handler as `never`. No vscode import (unit-tested).
 */
import { quoted } from '../../core/safeText';

export type Check<T> = (value: unknown) => value is T;

export const is = {
  number: ((v) => typeof v === 'number' && Number.isFinite(v)) as Check<number>,
  boolean: ((v) => typeof v === 'boolean') as Check<boolean>,
  string: ((v) => typeof v === 'string') as Check<string>,
  strings: ((v) => Array.isArray(v) && v.every((x) => typeof x === 'string')) as Check<string[]>,
  oneOf<T extends string>(...values: T[]): Check<T> {
    return ((v) => typeof v === 'string' && (values as string[]).includes(v)) as Check<T>;
  },
};

export type ArgsOf<S extends Record<string, Check<unknown>>> = { [K in keyof S]?: S[K] extends Check<infer T> ? T : never };

/** Error for a command argument that does not fit: names the command and the field, quotes the value. */
export class CommandArgsError extends Error {}

/**
 * `raw` narrowed to the fields of `spec`, each optional. A tree context menu passes the selected
 * nodes (an array) as the second argument: that is not scripted input and yields `{}`.
 */
export function commandArgs<S extends Record<string, Check<unknown>>>(command: string, raw: unknown, spec: S): ArgsOf<S> {
  if (raw === undefined || raw === null || Array.isArray(raw)) return {};
  if (typeof raw !== 'object') throw new CommandArgsError(`${command}: the arguments must be an object, not ${quoted(raw)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!Object.prototype.hasOwnProperty.call(spec, key))
      throw new CommandArgsError(`${command}: unknown argument ${quoted(key)} (it takes ${Object.keys(spec).join(', ') || 'none'})`);
    if (value === undefined) continue;
    if (!spec[key](value)) throw new CommandArgsError(`${command}: argument ${quoted(key)} has the wrong type: ${quoted(value)}`);
    out[key] = value;
  }
  return out as ArgsOf<S>;
}
