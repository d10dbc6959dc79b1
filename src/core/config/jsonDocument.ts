import { createScanner, findNodeAtLocation, parseTree, printParseErrorCode, getNodeValue } from 'jsonc-parser';
import type { Node, ParseError, JSONPath } from 'jsonc-parser';
import { InputError, InputErrors } from '../errors';
import type { InputErrorOptions, SourceLocation } from '../errors';
import { quoted } from '../safeText';

/**
 * Deepest nesting of objects and arrays accepted. rollout.json, box.json and composer.json need a handful of
 * levels; the limit keeps every recursive reader (the parser, schema validation, PHP's json_decode at 512)
 * far from its stack, so hostile nesting is a located error instead of a crash.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * A JSON (with comments) document that remembers where every value came from,
 * so that any later check can point at the offending line and column.
 */
export class JsonDocument {
  private readonly lineStarts: number[];

  private constructor(
    readonly file: string,
    readonly text: string,
    readonly root: Node | undefined,
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /**
   * Parses `text`; throws InputErrors listing every syntax error with its position.
   * `allowComments` is false for files whose own tools reject comments (composer.json).
   */
  static parse(file: string, text: string, options: { allowComments?: boolean } = {}): JsonDocument {
    const tooDeep = depthError(text);
    if (tooDeep !== undefined) {
      const doc = new JsonDocument(file, text, undefined);
      throw new InputErrors([
        new InputError(`Objects and arrays are nested deeper than ${MAX_JSON_DEPTH} levels`, {
          location: doc.locationOfOffset(tooDeep),
          hint: 'Flatten this value: no setting needs this depth.',
        }),
      ]);
    }
    const errors: ParseError[] = [];
    const root = parseTree(text, errors, {
      allowTrailingComma: options.allowComments ?? true,
      disallowComments: !(options.allowComments ?? true),
    });
    const doc = new JsonDocument(file, text, root);
    if (errors.length > 0) {
      throw new InputErrors(
        errors.map(
          (e) =>
            new InputError(`JSON syntax error: ${describeParseError(printParseErrorCode(e.error))}`, {
              location: doc.locationOfOffset(e.offset, e.length),
              hint: 'Fix the syntax at this position.',
              syntax: true,
            }),
        ),
      );
    }
    if (!root)
      throw new InputErrors([new InputError('The file is empty', { location: doc.locationOfOffset(0), hint: 'Write a JSON object.' })]);
    const duplicates = doc.duplicateKeys();
    if (duplicates.length) throw new InputErrors(duplicates);
    return doc;
  }

  /** Every key written twice in one object, located at the second (and later) one: readers disagree on which wins. */
  private duplicateKeys(): InputError[] {
    const errors: InputError[] = [];
    const stack: Node[] = this.root ? [this.root] : [];
    while (stack.length) {
      const node = stack.pop() as Node;
      if (node.type === 'object') {
        const seen = new Map<string, Node>();
        for (const prop of node.children ?? []) {
          const keyNode = prop.children?.[0];
          if (!keyNode) continue;
          const key = String(keyNode.value);
          const first = seen.get(key);
          if (first) {
            const at = this.locationOfOffset(first.offset);
            errors.push(
              new InputError(`Duplicate key ${quoted(key)} (first at line ${at.line}, column ${at.column})`, {
                location: this.locationOfOffset(keyNode.offset, keyNode.length),
                hint: 'Remove one of them: JSON readers disagree on which one counts.',
                syntax: true,
              }),
            );
          } else seen.set(key, keyNode);
        }
      }
      for (const child of node.children ?? []) stack.push(child);
    }
    return errors.sort(
      (a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.column ?? 0) - (b.location?.column ?? 0),
    );
  }

  /** The plain value of the whole document (objects without a prototype, so "__proto__" is an ordinary own key). */
  value(): unknown {
    return this.root ? getNodeValue(this.root) : undefined;
  }

  /** Node at a JSON path (e.g. ['backends', 0, 'name']), or undefined. */
  node(path: JSONPath): Node | undefined {
    return this.root ? findNodeAtLocation(this.root, path) : undefined;
  }

  /** 1-based line/column of a character offset. */
  locationOfOffset(offset: number, length = 1): SourceLocation {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: offset - this.lineStarts[lo] + 1, length };
  }

  /**
   * Where a path points: the value itself, or with `key` the property's key (for "unknown key" errors).
   * Falls back to the nearest existing parent, so a missing property points at its object.
   */
  locationOf(path: JSONPath, options: { key?: boolean } = {}): SourceLocation {
    for (let n = path.length; n >= 0; n--) {
      const node = this.node(path.slice(0, n));
      if (!node) continue;
      if (options.key && n === path.length && node.parent?.type === 'property' && node.parent.children?.[0]) {
        const keyNode = node.parent.children[0];
        return this.locationOfOffset(keyNode.offset, keyNode.length);
      }
      return this.locationOfOffset(node.offset, node.type === 'object' || node.type === 'array' ? 1 : node.length);
    }
    return this.locationOfOffset(0);
  }

  /** An InputError located at `path`. */
  error(
    path: JSONPath,
    message: string,
    hint?: string,
    options: { key?: boolean } & Pick<InputErrorOptions, 'replacements' | 'removal'> = {},
  ): InputError {
    return new InputError(message, {
      location: this.locationOf(path, options),
      hint,
      replacements: options.replacements,
      removal: options.removal,
    });
  }
}

/** Offset of the first "{" or "[" that opens level MAX_JSON_DEPTH + 1, or undefined. Iterative: safe on any input. */
function depthError(text: string): number | undefined {
  // jsonc-parser's SyntaxKind is a const enum (unusable with isolatedModules): its documented values.
  const OPEN_BRACE = 1;
  const CLOSE_BRACE = 2;
  const OPEN_BRACKET = 3;
  const CLOSE_BRACKET = 4;
  const EOF = 17;
  const scanner = createScanner(text, true);
  let depth = 0;
  for (let token = scanner.scan(); token !== EOF; token = scanner.scan()) {
    if (token === OPEN_BRACE || token === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH) return scanner.getTokenOffset();
    } else if (token === CLOSE_BRACE || token === CLOSE_BRACKET) depth--;
  }
  return undefined;
}

function describeParseError(code: string): string {
  const words: Record<string, string> = {
    InvalidSymbol: 'unexpected character',
    InvalidNumberFormat: 'invalid number',
    PropertyNameExpected: 'property name expected',
    ValueExpected: 'value expected',
    ColonExpected: "':' expected",
    CommaExpected: "',' expected",
    CloseBraceExpected: "'}' expected",
    CloseBracketExpected: "']' expected",
    EndOfFileExpected: 'end of file expected',
    InvalidCommentToken: 'comments are not allowed in this file',
    UnexpectedEndOfComment: 'unterminated comment',
    UnexpectedEndOfString: 'unterminated string',
    UnexpectedEndOfNumber: 'unterminated number',
    InvalidUnicode: 'invalid unicode escape',
    InvalidEscapeCharacter: 'invalid escape character',
    InvalidCharacter: 'invalid character',
  };
  return words[code] ?? code;
}

/** Turns a JSON pointer ("/backends/0/name") into a jsonc path. */
export function pointerToPath(pointer: string): JSONPath {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}
