import { TimelinePanel } from '../../timelinePanel';
import type { TimelineHandle } from '../../timelinePanel';
import type { CommandContext } from '../commandContext';

/** Open Timeline: the latest rollout's split, error rates and p95 over time, in a webview. */
export function openTimeline(ctx: CommandContext): TimelineHandle {
  const handle = TimelinePanel.show(ctx.model, ctx.extension.extensionUri);
  // The chart reads the history the model holds: make it current (untrusted: the model stays empty).
  void ctx.model.refreshLive();
  return handle;
}
