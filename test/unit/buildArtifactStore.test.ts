import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArtifactManifest } from '../../src/core/phar/artifact';
import {
  artifactId,
  artifactsDir,
  createStaging,
  findArtifactByInputsHash,
  getArtifact,
  listArtifacts,
  sha256File,
} from '../../src/core/phar/artifactStore';

describe('artifact store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-store-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  async function store(content: string, builtAt: string, inputsHash = 'h1'): Promise<ArtifactManifest> {
    const staging = await createStaging(dir);
    try {
      await fs.writeFile(path.join(staging.dir, 'shop.phar'), content);
      const sha256 = await sha256File(path.join(staging.dir, 'shop.phar'));
      const manifest: ArtifactManifest = {
        id: artifactId('1.0.0', 'abcdef0123', sha256),
        app: 'shop',
        version: '1.0.0',
        commit: 'abcdef0123',
        commitTime: '2024-01-01T00:00:00.000Z',
        sha256,
        size: Buffer.byteLength(content),
        builder: 'builtin',
        inputsHash,
        builtAt,
        phar: 'shop.phar',
      };
      await staging.commit(manifest);
      return manifest;
    } finally {
      await staging.discard();
    }
  }

  it('makes ids safe as folder names', () => {
    assert.equal(artifactId('1.2.0+build/7', 'abcdef0123456', '0123456789abcdef'), '1.2.0-build-7-abcdef0-01234567');
    assert.equal(artifactId('../x', 'unknown', 'ff'.repeat(32)), 'x-unknown-ffffffff');
  });

  it('lists artifacts newest first and finds one by id, "latest" and inputs hash', async () => {
    const a = await store('one', '2024-01-01T00:00:00.000Z', 'h1');
    const b = await store('two', '2024-01-02T00:00:00.000Z', 'h2');
    assert.deepEqual(
      (await listArtifacts(dir)).map((x) => x.id),
      [b.id, a.id],
    );
    assert.equal((await getArtifact(dir, 'latest'))?.id, b.id);
    assert.equal((await getArtifact(dir, a.id))?.pharPath, path.join(artifactsDir(dir), a.id, 'shop.phar'));
    assert.equal(await getArtifact(dir, '../etc'), undefined);
    assert.equal((await findArtifactByInputsHash(dir, 'h1'))?.id, a.id);
    assert.equal(await findArtifactByInputsHash(dir, 'h3'), undefined);
  });

  it('does not reuse a cached artifact whose phar was altered', async () => {
    const a = await store('one', '2024-01-01T00:00:00.000Z', 'h1');
    await fs.writeFile(path.join(artifactsDir(dir), a.id, 'shop.phar'), 'eno');
    assert.equal(await findArtifactByInputsHash(dir, 'h1'), undefined);
  });

  it('leaves nothing behind when a staging folder is discarded, and never lists one', async () => {
    const staging = await createStaging(dir);
    await fs.writeFile(path.join(staging.dir, 'shop.phar'), 'partial');
    assert.deepEqual(await listArtifacts(dir), []);
    await staging.discard();
    assert.deepEqual(await fs.readdir(artifactsDir(dir)), []);
  });

  it('replaces an artifact of the same id (a forced rebuild) in place', async () => {
    const a = await store('same', '2024-01-01T00:00:00.000Z', 'h1');
    const again = await store('same', '2024-01-03T00:00:00.000Z', 'h1');
    assert.equal(again.id, a.id);
    const all = await listArtifacts(dir);
    assert.equal(all.length, 1);
    assert.equal(all[0].builtAt, '2024-01-03T00:00:00.000Z');
    assert.deepEqual((await fs.readdir(artifactsDir(dir))).sort(), [a.id]);
  });
});
