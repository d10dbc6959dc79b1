import * as fs from 'node:fs';
import * as path from 'node:path';

/** Copies a fixture project without build leftovers (vendor/, .rollout/, node_modules/, built phars). */
export function copyFixture(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(from, src);
      if (!rel) return true;
      const top = rel.split(path.sep)[0];
      return top !== 'vendor' && top !== '.rollout' && top !== 'node_modules' && !rel.endsWith('.phar');
    },
  });
}
