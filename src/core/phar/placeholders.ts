import type { PlaceholderConfig } from '../config/boxConfig';

/** What the git placeholders are filled from (see readGitInfo). */
export interface PlaceholderSource {
  commit?: string;
  /** `git describe --tags`. */
  describe?: string;
  latestTag?: string;
  exactTag?: string;
  /** The build time: commit time or SOURCE_DATE_EPOCH, never the wall clock. */
  time: Date;
}

/** A placeholder box.json asks for that cannot be filled (no git, no tag): the box.json key and why. */
export interface PlaceholderProblem {
  key: string;
  message: string;
}

/**
 * The placeholder → value map for box.json's placeholder settings, as box fills them, except that
 * `datetime` is the commit time in UTC (reproducible) instead of the wall clock.
 * Keys carry the sigils ("@git_commit@"). Returns the problems instead of throwing so the caller can locate them.
 */
export function placeholderValues(
  config: PlaceholderConfig,
  source: PlaceholderSource,
): { values: Record<string, string>; problems: PlaceholderProblem[] } {
  const values: Record<string, string> = {};
  const problems: PlaceholderProblem[] = [];
  const put = (name: string | undefined, key: string, value: string | undefined, why: string) => {
    if (name === undefined) return;
    if (value === undefined) problems.push({ key, message: why });
    else values[`${config.sigil}${name}${config.sigil}`] = value;
  };
  const short = source.commit?.slice(0, 7);
  const noCommit = 'needs a git repository with at least one commit';
  for (const [name, value] of Object.entries(config.replacements)) values[`${config.sigil}${name}${config.sigil}`] = value;
  put(config.gitCommit, 'git-commit', source.commit, noCommit);
  put(config.gitCommitShort, 'git-commit-short', short, noCommit);
  put(config.gitTag, 'git-tag', source.describe, 'needs a git tag reachable from HEAD');
  put(config.gitVersion, 'git-version', source.latestTag ?? short, noCommit);
  // box's "pretty" version: the tag on an exact match, else tag@short-commit.
  put(config.git, 'git', source.exactTag ?? (source.latestTag && short ? `${source.latestTag}@${short}` : short), noCommit);
  if (config.datetime !== undefined) {
    try {
      values[`${config.sigil}${config.datetime}${config.sigil}`] = formatPhpDate(config.datetimeFormat, source.time);
    } catch (e) {
      problems.push({ key: 'datetime-format', message: (e as Error).message });
    }
  }
  return { values, problems };
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * PHP's date() in UTC: every format character of PHP 8.2 (time zone ones answer UTC), "\" escapes,
 * other characters as they are.
 */
export function formatPhpDate(format: string, date: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const Y = date.getUTCFullYear();
  const m = date.getUTCMonth();
  const d = date.getUTCDate();
  const H = date.getUTCHours();
  const dow = date.getUTCDay();
  const startOfYear = Date.UTC(Y, 0, 1);
  const dayOfYear = Math.floor((Date.UTC(Y, m, d) - startOfYear) / 86400000);
  const leap = (Y % 4 === 0 && Y % 100 !== 0) || Y % 400 === 0;
  const iso = isoWeek(date);
  let out = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    switch (c) {
      case 'd':
        out += pad(d);
        break;
      case 'D':
        out += DAYS[dow].slice(0, 3);
        break;
      case 'j':
        out += d;
        break;
      case 'l':
        out += DAYS[dow];
        break;
      case 'N':
        out += dow === 0 ? 7 : dow;
        break;
      case 'S':
        out += d % 10 === 1 && d !== 11 ? 'st' : d % 10 === 2 && d !== 12 ? 'nd' : d % 10 === 3 && d !== 13 ? 'rd' : 'th';
        break;
      case 'w':
        out += dow;
        break;
      case 'z':
        out += dayOfYear;
        break;
      case 'W':
        out += pad(iso.week);
        break;
      case 'F':
        out += MONTHS[m];
        break;
      case 'm':
        out += pad(m + 1);
        break;
      case 'M':
        out += MONTHS[m].slice(0, 3);
        break;
      case 'n':
        out += m + 1;
        break;
      case 't':
        out += new Date(Date.UTC(Y, m + 1, 0)).getUTCDate();
        break;
      case 'L':
        out += leap ? 1 : 0;
        break;
      case 'o':
        out += iso.year;
        break;
      case 'Y':
        out += Y;
        break;
      case 'y':
        out += pad(Y % 100);
        break;
      case 'a':
        out += H < 12 ? 'am' : 'pm';
        break;
      case 'A':
        out += H < 12 ? 'AM' : 'PM';
        break;
      case 'g':
        out += H % 12 || 12;
        break;
      case 'G':
        out += H;
        break;
      case 'h':
        out += pad(H % 12 || 12);
        break;
      case 'H':
        out += pad(H);
        break;
      case 'i':
        out += pad(date.getUTCMinutes());
        break;
      case 's':
        out += pad(date.getUTCSeconds());
        break;
      case 'u':
        out += pad(date.getUTCMilliseconds() * 1000, 6);
        break;
      case 'v':
        out += pad(date.getUTCMilliseconds(), 3);
        break;
      case 'e':
        out += 'UTC';
        break;
      case 'T':
        out += 'UTC';
        break;
      case 'P':
        out += '+00:00';
        break;
      case 'p':
        out += 'Z';
        break;
      case 'O':
        out += '+0000';
        break;
      case 'Z':
        out += '0';
        break;
      case 'c':
        out += `${Y}-${pad(m + 1)}-${pad(d)}T${pad(H)}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}+00:00`;
        break;
      case 'r':
        out += `${DAYS[dow].slice(0, 3)}, ${pad(d)} ${MONTHS[m].slice(0, 3)} ${Y} ${pad(H)}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`;
        break;
      case 'U':
        out += Math.floor(date.getTime() / 1000);
        break;
      case 'B':
        out += pad(Math.floor(((((date.getTime() / 1000 + 3600) % 86400) + 86400) % 86400) / 86.4), 3);
        break;
      case 'I':
        out += '0';
        break;
      case 'x':
        out += Y >= 10000 ? `+${Y}` : Y;
        break;
      case 'X':
        out += Y >= 0 ? `+${pad(Y, 4)}` : `-${pad(-Y, 4)}`;
        break;
      case '\\':
        i++;
        if (i < format.length) out += format[i];
        break;
      default:
        // PHP prints characters that are not format characters as they are.
        out += c;
    }
  }
  return out;
}

function isoWeek(date: Date): { year: number; week: number } {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // Thursday of this week decides the year
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return { year, week };
}
