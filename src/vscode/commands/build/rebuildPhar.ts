import type { Artifact } from '../../../core/phar/artifact';
import type { CommandContext } from '../commandContext';
import { buildPhar } from './buildPhar';

/** Rebuild Phar (ignore cache): Build Phar even when the inputs are unchanged. */
export function rebuildPhar(ctx: CommandContext): Promise<Artifact | undefined> {
  return buildPhar(ctx, { force: true });
}
