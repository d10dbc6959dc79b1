/** A position inside a user file, 1-based as editors show it. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  /** Length of the offending text, for editor ranges. */
  length?: number;
}

/**
 * Bad input from a user file: carries where it is and what to do.
 * The CLI maps it to exit code 2, the extension to a Problems-panel diagnostic.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    message: string,
    readonly location?: SourceLocation,
    readonly hint?: string,
  ) {
    super(message);
  }

  /** `file:line:column: message (hint)` — the form editors and terminals link. */
  format(): string {
    const where = this.location ? `${this.location.file}:${this.location.line}:${this.location.column}: ` : '';
    return `${where}${this.message}${this.hint ? ` — ${this.hint}` : ''}`;
  }
}

/** Several located problems found in one pass over a file. */
export class InputErrors extends Error {
  override readonly name = 'InputErrors';
  constructor(readonly errors: InputError[]) {
    super(errors.map((e) => e.format()).join('\n'));
  }
}

/** A step of an operation failed (process, network, server). Exit code 1 in the CLI. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    message: string,
    readonly step?: string,
    readonly target?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown when an AbortSignal fires; callers treat it as "cancelled", not as a failure. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'Cancelled') {
    super(message);
  }
}

/** Throws CancelledError if the signal has fired. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Flattens InputError / InputErrors into a list. */
export function inputErrorsOf(err: unknown): InputError[] {
  if (err instanceof InputErrors) return err.errors;
  if (err instanceof InputError) return [err];
  return [];
}

/** A one-line, human message for any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof InputError) return err.format();
  if (err instanceof Error) return err.message;
  return String(err);
}
