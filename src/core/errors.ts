/** A position inside a user file, 1-based as editors show it. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
  /** Length of the offending text, for editor ranges. */
  length?: number;
}

/** Where bad input is and what the user should do about it. */
export interface InputErrorOptions {
  location?: SourceLocation;
  hint?: string;
  /** Values that would fix it at `location` (an enum's allowed values): an editor offers them as quick fixes. */
  replacements?: string[];
  /** A JSON path whose removal fixes it (a duplicate entry), with the fix's title: an editor offers it as a quick fix. */
  removal?: { path: Array<string | number>; title: string };
  /** A JSON syntax or duplicate-key fault: the editor's JSON service reports it itself in an open file. */
  syntax?: boolean;
}

/**
 * Bad input from a user file: carries where it is and what to do.
 * The CLI maps it to exit code 2, the extension to a Problems-panel diagnostic.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly location?: SourceLocation;
  readonly hint?: string;
  readonly replacements?: string[];
  readonly removal?: InputErrorOptions['removal'];
  readonly syntax?: boolean;
  constructor(message: string, options: InputErrorOptions = {}) {
    super(message);
    this.location = options.location;
    this.hint = options.hint;
    this.replacements = options.replacements;
    this.removal = options.removal;
    this.syntax = options.syntax;
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

/** What a failed step acted on; a call site sets the one key that fits. */
export interface OperationSubject {
  backend?: string;
  /** A load balancer's name. */
  lb?: string;
  /** An artifact (release) id. */
  artifact?: string;
  /** A file or directory path. */
  file?: string;
  /** An ssh destination or host name. */
  host?: string;
  /** A program that was started. */
  command?: string;
}

/** The step that failed, what it acted on, and the underlying error. */
export interface OperationErrorOptions extends OperationSubject {
  step?: string;
  cause?: unknown;
}

const SUBJECT_KEYS = ['backend', 'lb', 'artifact', 'file', 'host', 'command'] as const;

/** A step of an operation failed (process, network, server). Exit code 1 in the CLI. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
  readonly step?: string;
  readonly backend?: string;
  readonly lb?: string;
  readonly artifact?: string;
  readonly file?: string;
  readonly host?: string;
  readonly command?: string;
  constructor(message: string, options: OperationErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.step = options.step;
    this.backend = options.backend;
    this.lb = options.lb;
    this.artifact = options.artifact;
    this.file = options.file;
    this.host = options.host;
    this.command = options.command;
  }

  /** The subject keys that are set, to carry into an error that wraps this one. */
  get subject(): OperationSubject {
    const out: OperationSubject = {};
    for (const k of SUBJECT_KEYS) if (this[k] !== undefined) out[k] = this[k];
    return out;
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

// Errors that several verbs raise with the same words.

/** The project lists no load balancer, so there is no traffic to change or read. */
export function noLoadBalancerError(): InputError {
  return new InputError('No load balancer is configured', { hint: 'Add one to "loadBalancers" in rollout.json.' });
}

/** A group the operation needs has no backend; `hint` says what to do in this verb's terms. */
export function emptyGroupError(group: string, hint: string): InputError {
  return new InputError(`No backend is in the "${group}" group`, { hint });
}
