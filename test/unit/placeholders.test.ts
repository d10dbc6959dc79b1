import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { placeholderBackends } from '../../src/vscode/placeholders';
import type { BackendConfig } from '../../src/core/config/rolloutConfig';

describe('placeholder backends (the starter rollout.json)', () => {
  it('are the local backends in .rollout/backends/ that were never deployed', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rollout-placeholders-'));
    try {
      const b = (name: string, dir: string, ssh?: string) =>
        ({ name, group: 'stable', upstream: '127.0.0.1:1', dir, ssh }) as BackendConfig;
      await fs.mkdir(path.join(root, '.rollout', 'backends', 'deployed'), { recursive: true });
      const backends = [
        b('web-1', '.rollout/backends/web-1'),
        b('deployed', '.rollout/backends/deployed'),
        b('mine', 'srv/app'),
        b('remote', '.rollout/backends/remote', 'deploy@10.0.0.1'),
        b('escape', '.rollout/backends/../../elsewhere'),
      ];
      assert.deepEqual(placeholderBackends(root, backends), ['web-1']);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
