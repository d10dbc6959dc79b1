import { findNodeAtLocation, parseTree, printParseErrorCode, getNodeValue } from 'jsonc-parser';
import type { Node, ParseError, JSONPath } from 'jsonc-parser';
import { InputError, InputErrors } from '../errors';
import type { SourceLocation } from '../errors';

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
            }),
        ),
      );
    }
    if (!root)
      throw new InputErrors([new InputError('The file is empty', { location: doc.locationOfOffset(0), hint: 'Write a JSON object.' })]);
    return doc;
  }

  /** The plain value of the whole document. */
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
  error(path: JSONPath, message: string, hint?: string, options: { key?: boolean } = {}): InputError {
    return new InputError(message, { location: this.locationOf(path, options), hint });
  }
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
