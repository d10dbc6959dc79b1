/**
 * Foreign text (from servers, logs, config files, lock owners) made safe to show.
 * `--json` output stays exact; everything a human reads goes through one of these.
 */

/** Default cap on a quoted foreign value, in characters. */
export const MAX_QUOTED = 200;

const C0_NAMES: Record<number, string> = {
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x1b: '\\e',
};

/**
 * Makes a foreign string safe for a terminal: C0/C1 control characters, DEL and the Unicode
 * line/paragraph separators and bidi overrides are escaped visibly (`\e`, `\n`, `\x9b`, `\u202e`),
 * and the result is capped at `max` characters (with `…(+N)` saying how much was cut).
 */
export function safeText(value: unknown, max = MAX_QUOTED): string {
  const text = typeof value === 'string' ? value : stringOf(value);
  const cut = text.length > max ? text.slice(0, max) : text;
  const escaped = cut.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => {
    const code = ch.charCodeAt(0);
    if (C0_NAMES[code]) return C0_NAMES[code];
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  return text.length > max ? `${escaped}…(+${text.length - max})` : escaped;
}

/** `"value"` quoted and made safe, for error messages that name a foreign value. */
export function quoted(value: unknown, max = MAX_QUOTED): string {
  return `"${safeText(value, max)}"`;
}

/**
 * Escapes foreign text for VS Code markdown (a tooltip, a hover): terminal-safe first, then every
 * markdown and HTML metacharacter and `$(` (theme icons) is backslash-escaped so nothing renders
 * as a link, image, HTML or icon. Use with a MarkdownString that is neither trusted nor HTML-enabled.
 */
export function markdownText(value: unknown, max = MAX_QUOTED): string {
  return safeText(value, max)
    .replace(/[\\`*_{}[\]()#+\-.!|<>&~"'=:]/g, (ch) => `\\${ch}`)
    .replace(/\$/g, '\\$');
}

function stringOf(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return typeof value === 'object' && value !== null ? (JSON.stringify(value) ?? String(value)) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
