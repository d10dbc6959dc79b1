/**
 * The access-log line format the analysis reads, and its parser.
 *
 * nginx writes one JSON object per request (escape=json). The key order is fixed by the
 * directive below, so the parser matches the exact shape with one regular expression instead of
 * JSON.parse + shape checks: faster on a million lines, and anything else (a foreign format, a
 * line cut in the middle, hostile bytes) simply does not match and is counted, never guessed at.
 */

/** Name of the nginx `log_format` the managed file defines. */
export const LOG_FORMAT_NAME = 'phar_rollout';

/** The fields, in the order nginx writes them. `$uri` (decoded, no query string: it may hold secrets). */
const FIELDS: ReadonlyArray<[key: string, variable: string]> = [
  ['msec', '$msec'],
  ['upstream_addr', '$upstream_addr'],
  ['upstream_status', '$upstream_status'],
  ['upstream_response_time', '$upstream_response_time'],
  ['status', '$status'],
  ['request_time', '$request_time'],
  ['method', '$request_method'],
  ['uri', '$uri'],
];

/**
 * The exact nginx directive (http level) that defines the format. Every value is a JSON string
 * because an unset variable is written as an empty string, which would not be a valid JSON number.
 */
export const LOG_FORMAT_DIRECTIVE = `log_format ${LOG_FORMAT_NAME} escape=json '{${FIELDS.map(([k, v]) => `"${k}":"${v}"`).join(',')}}';`;

/**
 * The http-level `access_log` line for `file`. A `server` with its own `access_log` must repeat
 * this line inside it (nginx does not inherit access_log into a level that sets its own).
 * `file` is written into nginx config: it must not hold quotes, `;`, `{`, `}` or whitespace.
 */
export function accessLogDirective(file: string): string {
  if (!/^[^\s"';{}$\\]+$/.test(file)) {
    throw new Error(`The access log path "${file}" cannot be written into nginx config: use a path without spaces, quotes, ; { } $ or \\`);
  }
  return `access_log ${file} ${LOG_FORMAT_NAME};`;
}

/** One request as nginx logged it. Upstream fields stay raw: attribution parses them. */
export interface AccessLogEntry {
  /** Request end time in ms since the epoch (`$msec`). */
  timeMs: number;
  /** `$upstream_addr`: "a, b" when nginx retried, "x : y" across internal redirects; "" without upstream. */
  upstreamAddr: string;
  /** `$upstream_status`, same layout as upstreamAddr ("502, 200"). */
  upstreamStatus: string;
  /** `$upstream_response_time` in seconds, same layout ("0.001, 0.012"). */
  upstreamResponseTime: string;
  /** `$status`: what the client got. */
  status: number;
  /** `$request_time` in ms. */
  requestTimeMs: number;
  method: string;
  /** Foreign text: pass through safeText before showing it. */
  uri: string;
}

const STR = '((?:[^"\\\\]|\\\\.)*)';
const LINE = new RegExp(
  '^\\{"msec":"(\\d{1,12}(?:\\.\\d{1,3})?)"' +
    `,"upstream_addr":${'"' + STR + '"'}` +
    ',"upstream_status":"([0-9 ,:-]*)"' +
    ',"upstream_response_time":"([0-9 .,:-]*)"' +
    ',"status":"(\\d{3})"' +
    ',"request_time":"(\\d{1,9}(?:\\.\\d{1,3})?)"' +
    `,"method":"${STR}"` +
    `,"uri":"${STR}"\\}\\r?$`,
);

/** nginx's escape=json writes only these escapes; JSON.parse undoes them (and rejects anything else). */
function unescape(s: string): string | undefined {
  if (!s.includes('\\')) return s;
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return undefined;
  }
}

/** Parses one line of the `phar_rollout` format; undefined for anything else (count it, do not guess). */
export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const upstreamAddr = unescape(m[2]);
  const method = unescape(m[7]);
  const uri = unescape(m[8]);
  if (upstreamAddr === undefined || method === undefined || uri === undefined) return undefined;
  return {
    timeMs: Math.round(Number(m[1]) * 1000),
    upstreamAddr,
    upstreamStatus: m[3],
    upstreamResponseTime: m[4],
    status: Number(m[5]),
    requestTimeMs: Math.round(Number(m[6]) * 1000),
    method,
    uri,
  };
}

/** Result of parsing a block of lines. */
export interface ParsedLines {
  entries: AccessLogEntry[];
  /** Non-empty lines that were not in the format. */
  unparsable: number;
}

/** Parses complete lines (split on "\n"); empty lines are skipped, foreign ones counted. */
export function parseAccessLogLines(text: string): ParsedLines {
  const entries: AccessLogEntry[] = [];
  const unparsable = forEachAccessLogLine(text, (e) => entries.push(e));
  return { entries, unparsable };
}

/**
 * Streams complete lines to `onEntry` without collecting them (a million-line log then costs no
 * more memory than one line); returns how many non-empty lines were not in the format.
 */
export function forEachAccessLogLine(text: string, onEntry: (entry: AccessLogEntry) => void): number {
  let unparsable = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const e = parseAccessLogLine(text.slice(start, end));
      if (e) onEntry(e);
      else unparsable++;
    }
    start = end + 1;
  }
  return unparsable;
}
