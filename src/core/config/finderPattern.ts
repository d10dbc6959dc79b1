/**
 * Finder name/path patterns as Symfony Finder reads them: a PHP-delimited regex ("/x/i") or a glob.
 * Hand-written rather than picomatch/minimatch: those treat "**", extglobs and a leading "!" differently
 * from Symfony's Glob, so they would change which files go into the phar.
 */

/** Why a finder pattern cannot be used, or undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (!isRegex(pattern)) return undefined;
  try {
    toJsRegex(pattern);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Where the delimited part of a PHP regex ends (trailing modifier letters excluded), or -1 when `s` is no regex. */
function regexBodyEnd(s: string): number {
  // Symfony Finder's isRegex: the shortest prefix of 3+ chars followed only by modifiers, with matching delimiters.
  let end = s.length;
  while (end > 3 && 'imsxuADUn'.includes(s[end - 1])) end--;
  if (end < 3) return -1;
  const start = s[0];
  const last = s[end - 1];
  if (start === last) return /[*?A-Za-z0-9 \\]/.test(start) ? -1 : end;
  const pairs: Record<string, string> = { '{': '}', '(': ')', '[': ']', '<': '>' };
  return pairs[start] === last ? end : -1;
}

/** Symfony Finder's test: a string delimited like a PHP regex ("/x/i", "#x#", "{x}") is a regex, anything else a glob. */
export function isRegex(s: string): boolean {
  return regexBodyEnd(s) !== -1;
}

/** Converts a PHP (PCRE) regex string "/x/i" to a JavaScript RegExp; throws with a reason when it cannot. */
export function toJsRegex(s: string): RegExp {
  const end = regexBodyEnd(s);
  if (end === -1) throw new Error('not a delimited regex');
  const inner = s.slice(1, end - 1);
  let flags = '';
  for (const m of s.slice(end)) {
    if ('imsu'.includes(m)) {
      if (!flags.includes(m)) flags += m;
    } else if (m !== 'D' && m !== 'n') throw new Error(`the regex modifier "${m}" is not supported`);
  }
  try {
    return new RegExp(inner, flags);
  } catch (e) {
    throw new Error(`invalid regex (${(e as Error).message})`, { cause: e });
  }
}

/** Symfony Finder's glob: "*" and "?" stay within one path segment, {a,b} alternates, [..] is a class. */
export function globToRegex(glob: string): RegExp {
  let re = '';
  let inBraces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      inBraces++;
      re += '(?:';
    } else if (c === '}' && inBraces > 0) {
      inBraces--;
      re += ')';
    } else if (c === ',' && inBraces > 0) re += '|';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let cls = glob.slice(i + 1, close);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escapeRegex(glob[++i]);
    } else re += escapeRegex(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A name/path matcher as Symfony Finder builds it: regexes as written, globs anchored, plain path strings as substrings. */
export function nameMatcher(pattern: string): (name: string) => boolean {
  const re = isRegex(pattern) ? toJsRegex(pattern) : globToRegex(pattern);
  return (name) => re.test(name);
}

export function pathMatcher(pattern: string): (relPath: string) => boolean {
  if (isRegex(pattern)) {
    const re = toJsRegex(pattern);
    return (p) => re.test(p);
  }
  return (p) => p.includes(pattern);
}
