/** The core's only view of logging; the extension backs it with a LogOutputChannel, the CLI with stderr. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Raw output of a child process, one line at a time. */
  output(line: string): void;
}

/** A logger that drops everything (unit tests, quiet CLI). */
export const nullLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  output: () => undefined,
};
