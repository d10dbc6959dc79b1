import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { InputError, InputErrors } from '../errors';
import { JsonDocument } from './jsonDocument';
import { quoted } from '../safeText';

export interface ComposerInfo {
  file: string;
  /** vendor/package */
  name?: string;
  /** The package part of the name: the default app name. */
  shortName?: string;
  version?: string;
  /** True when composer.json declares any non-platform requirement (affects whether composer install is needed). */
  hasRequirements: boolean;
}

const NAME = /^[a-z0-9]([_.-]?[a-z0-9]+)*\/[a-z0-9](([_.]|-{1,2})?[a-z0-9]+)*$/;
// Composer's own version grammar, simplified: 1.2.3, v1.2, 1.2.3-beta.1, 1.0.0-RC2.
const VERSION = /^v?\d+(\.\d+){0,3}(-?(dev|alpha|beta|RC|rc|patch|pl|p)[.-]?\d*)?(\+[0-9A-Za-z.-]+)?$/;

/** Parses composer.json text: plain JSON (composer rejects comments), name and version checked. */
export function parseComposerJson(file: string, text: string): ComposerInfo {
  const doc = JsonDocument.parse(file, text, { allowComments: false });
  const raw = doc.value();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InputErrors([doc.error([], 'composer.json must hold a JSON object', 'See https://getcomposer.org/doc/04-schema.md')]);
  }
  const obj = raw as Record<string, unknown>;
  const errors: InputError[] = [];
  if (obj.name !== undefined && (typeof obj.name !== 'string' || !NAME.test(obj.name))) {
    errors.push(
      doc.error(['name'], `"name" must look like vendor/package in lower case, got ${quoted(obj.name)}`, 'For example "acme/shop".'),
    );
  }
  if (obj.version !== undefined && (typeof obj.version !== 'string' || !VERSION.test(obj.version))) {
    errors.push(
      doc.error(
        ['version'],
        `"version" is not a valid version: ${quoted(obj.version)}`,
        'Use a version such as "1.2.0", or remove it to take the version from git tags.',
      ),
    );
  }
  for (const key of ['require', 'require-dev'] as const) {
    if (obj[key] !== undefined && (typeof obj[key] !== 'object' || obj[key] === null || Array.isArray(obj[key]))) {
      errors.push(doc.error([key], `"${key}" must be an object of package: constraint`, 'For example {"php": ">=8.1"}.'));
    }
  }
  if (errors.length) throw new InputErrors(errors);
  const name = obj.name as string | undefined;
  const require = (obj.require ?? {}) as Record<string, unknown>;
  return {
    file,
    name,
    shortName: name?.split('/')[1],
    version: obj.version as string | undefined,
    hasRequirements: Object.keys(require).some((k) => k.includes('/')),
  };
}

/** Reads and parses `<dir>/composer.json`. */
export async function readComposerJson(dir: string): Promise<ComposerInfo> {
  const file = path.join(dir, 'composer.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(`Cannot read composer.json: ${(err as Error).message}`, {
      location: { file, line: 1, column: 1 },
      hint: 'Open the folder of a PHP project with composer.json.',
    });
  }
  return parseComposerJson(file, text);
}
