/**
 * One progress report, whatever reports it (a traffic change, a deploy, a build): VS Code's
 * `{ message, increment }` plus, for a deploy, which backend is at which step and how far its upload is.
 * `Step` narrows the step names (a deploy reports DeployStep).
 */
export interface Progress<Step extends string = string> {
  message: string;
  /** Share of the whole operation this report completes, in percent (the increments add up to 100). */
  increment?: number;
  /** The backend this report is about (a deploy or release rollback). */
  backend?: string;
  /** The step that backend just started (`queued`, `lock`, `upload`, …, `done`). */
  step?: Step;
  /** Upload progress of `backend`: bytes sent so far of `total`. */
  bytes?: { done: number; total: number };
}

/** Where an operation sends its progress reports. */
export type OnProgress<Step extends string = string> = (p: Progress<Step>) => void;
