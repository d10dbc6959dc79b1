/**
 * Texts of the last build (the Project view's row and the package status item). No vscode import
 * (unit-tested): the views pass in what the model knows.
 */
import { safeText } from '../core/safeText';
import { formatAge, formatBytes } from './format';

/** What the texts need of a build. */
export interface BuildFacts {
  version: string;
  size: number;
  sha256: string;
  builder: string;
  builtAt: string;
}

/** The last build's row: the essential word first, the details after it. */
export interface BuildRowText {
  label: string;
  description: string;
  /** composer.json names another version than the last build: the next step is Build Phar. */
  outOfDate: boolean;
}

/**
 * "Last build 1.2.0" with "out of date — Build Phar (composer.json: 1.3.0)" when composer.json moved
 * on, "up to date · 13.7 KB · …" right after a build that found nothing changed.
 */
export function lastBuildRow(a: BuildFacts, o: { upToDate: boolean; composerVersion?: string }, now = Date.now()): BuildRowText {
  const outOfDate = o.composerVersion !== undefined && o.composerVersion !== a.version;
  // The sha256 is in the tooltip (and Copy): on the row it only pushed the age past the default side-bar width.
  const details = `${formatBytes(a.size)} · ${a.builder} · ${formatAge(a.builtAt, now)}`;
  const description = outOfDate
    ? `out of date — Build Phar (composer.json: ${safeText(o.composerVersion, 40)})`
    : `${o.upToDate ? 'up to date · ' : ''}${details}`;
  return { label: `Last build ${safeText(a.version, 40)}`, description, outOfDate };
}

/**
 * The package status item's text (plain: the caller breaks "$(" in foreign parts): the last build's
 * version, "not built" for a project never built (composer.json's version is not a build), and
 * "out of date" when composer.json names another version.
 */
export function packageStatusText(appName: string, a: Pick<BuildFacts, 'version'> | undefined, composerVersion?: string): string {
  const name = appName ? `${appName} ` : '';
  if (!a) return `${name}not built`;
  const stale = composerVersion !== undefined && composerVersion !== a.version;
  return `${name}${a.version}${stale ? ' (out of date)' : ''}`;
}
