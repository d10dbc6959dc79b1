import * as path from 'node:path';
import type { JSONPath } from 'jsonc-parser';
import { quoted, safeText } from '../safeText';

/** The JSON type box documents for a key, as the built-in compiler checks it. */
export type Kind = 'string' | 'boolean' | 'stringList' | 'stringOrList' | 'finder' | 'any' | 'object';

/** Collects one located problem: a JSON path in box.json, the message, a hint, and whether to point at the key. */
export type ErrorSink = (at: JSONPath, message: string, hint?: string, key?: boolean) => void;

/** `p` relative to `base` with "/" separators, or undefined when it leaves `base`. */
export function relativeInside(base: string, p: string): string | undefined {
  const rel = path.relative(base, path.resolve(base, p)).split(path.sep).join('/');
  if (rel === '' || rel === '.') return '.';
  if (rel.startsWith('../') || rel === '..' || path.isAbsolute(rel)) return undefined;
  return rel;
}

/** Reports `value` at `at` when it is not of `kind`. */
export function checkKind(value: unknown, kind: Kind, at: JSONPath, err: ErrorSink): void {
  const name = quoted(at.filter((p) => typeof p === 'string').join('.'));
  switch (kind) {
    case 'string':
      if (typeof value !== 'string') err(at, `${name} must be a string, got ${typeName(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') err(at, `${name} must be true or false, got ${typeName(value)}`);
      break;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) err(at, `${name} must be an object, got ${typeName(value)}`);
      break;
    case 'stringList':
      if (!Array.isArray(value)) err(at, `${name} must be a list of strings, got ${typeName(value)}`, 'For example ["src", "config"].');
      else value.forEach((v, i) => typeof v !== 'string' && err([...at, i], `${name} entries must be strings, got ${typeName(v)}`));
      break;
    case 'stringOrList':
      if (typeof value === 'string') break;
      if (!Array.isArray(value)) err(at, `${name} must be a string or a list of strings, got ${typeName(value)}`);
      else value.forEach((v, i) => typeof v !== 'string' && err([...at, i], `${name} entries must be strings, got ${typeName(v)}`));
      break;
    case 'finder':
      if (!Array.isArray(value))
        err(at, `${name} must be a list of finder objects, got ${typeName(value)}`, 'For example [{ "in": "src", "name": "*.php" }].');
      else
        value.forEach(
          (v, i) =>
            (typeof v !== 'object' || v === null || Array.isArray(v)) &&
            err([...at, i], `${name} entries must be objects, got ${typeName(v)}`),
        );
      break;
    case 'any':
      break;
  }
}

/** "null", "a list", "an object" or the type and JSON of a scalar, for "got …" in messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${typeof value === 'string' ? quoted(value) : safeText(value)}`;
}
