/**
 * Stops every server a suite started, even when a test failed midway, and reports (not hides) one
 * that stays: each stop runs, the first error is thrown after all ran.
 *
 *   after(() => stopAll([...backends.map((b) => () => b.stop()), () => lb?.stop(), () => fs.rm(tmp, ...)]));
 */
export async function stopAll(stops: ReadonlyArray<() => Promise<unknown> | undefined>): Promise<void> {
  const errors: unknown[] = [];
  for (const stop of stops) {
    try {
      await stop();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw errors[0];
}
