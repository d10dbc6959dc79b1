import type * as vscode from 'vscode';
import type { Logger } from '../core/log';

/** The extension's one output channel, adapted to the core's Logger. */
export function createLogger(channel: vscode.LogOutputChannel): Logger {
  return {
    info: (m) => channel.info(m),
    warn: (m) => channel.warn(m),
    error: (m) => channel.error(m),
    debug: (m) => channel.debug(m),
    output: (line) => channel.info(`  ${line}`),
  };
}
