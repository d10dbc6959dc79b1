/**
 * Skips a test whose tool is missing on a developer's machine, saying why; under `CI=true` a missing
 * tool fails the run instead (the CI machine installs everything, so a skip would hide a broken install).
 */
export function skipUnlessCi(ctx: Mocha.Context, why: string): never {
  if (process.env.CI === 'true') throw new Error(`${why} (required under CI=true: scripts/installSystemDeps.sh installs it)`);
  console.log(`      skipped: ${why}`);
  ctx.skip();
}
