import assert from 'node:assert/strict';
import { refItem, releaseTargetsText, reviewHeader, reviewInfo, splitSummary, whereLive } from '../../src/vscode/changeText';

const backends = [
  { name: 'stable-1', group: 'stable' as const, deployed: '1.2.0' },
  { name: 'stable-2', group: 'stable' as const, deployed: '1.2.0' },
  { name: 'canary-1', group: 'canary' as const, deployed: '1.3.0' },
];

describe('change texts (review, where live, refs)', () => {
  it('splitSummary says who gets the requests, backends grouped by version', () => {
    assert.equal(splitSummary(10, backends), '10 % to canary-1 (1.3.0); 90 % to stable-1, stable-2 (1.2.0)');
    assert.equal(splitSummary(0, backends), '100 % to stable-1, stable-2 (1.2.0)');
    assert.equal(splitSummary(100, backends), '100 % to canary-1 (1.3.0); stable-1, stable-2 (1.2.0) as backup');
    assert.equal(splitSummary(33.33, backends), '33.33 % to canary-1 (1.3.0); 66.67 % to stable-1, stable-2 (1.2.0)');
    const mixed = [{ ...backends[0], deployed: '1.1.0' }, backends[1], { ...backends[2], deployed: undefined }];
    assert.equal(splitSummary(25, mixed), '25 % to canary-1 (nothing deployed); 75 % to stable-1 (1.1.0), stable-2 (1.2.0)');
  });

  it('the review names the action, the move, the LBs and the outcome; foreign text is made safe', () => {
    const change = { action: 'Ramp', before: 0, after: 25, loadBalancers: ['edge'] };
    assert.equal(
      reviewInfo(change, backends),
      'Ramp: canary 0 % → 25 % on edge: 25 % to canary-1 (1.3.0); 75 % to stable-1, stable-2 (1.2.0)',
    );
    const header = reviewHeader({ ...change, loadBalancers: ['edge', 'edge-2'] }, backends).split('\n');
    assert.deepEqual(header.slice(0, 5), [
      '# Review — Ramp: canary 0 % → 25 %',
      '# on 2 load balancers: edge, edge-2',
      '# After Apply:',
      '#   25 % to canary-1 (1.3.0)',
      '#   75 % to stable-1, stable-2 (1.2.0)',
    ]);
    const comments = header.filter((l) => l !== '');
    assert.ok(
      comments.every((l) => l.startsWith('# ')),
      'nginx comments, so the file stays valid nginx',
    );
    assert.ok(
      comments.every((l) => l.length <= 60),
      'short lines: each side of the diff has half the width',
    );
    const evil = reviewInfo({ ...change, before: undefined }, [{ name: 'c\u001b[31m', group: 'canary', deployed: '1.3.0\nx' }]);
    assert.ok(!/[\u001b\n]/.test(evil), evil);
    assert.match(evil, /^Ramp: canary 0 % → 25 %/);
  });

  it('whereLive names whole groups, the canary with its split, and partial groups by backend', () => {
    const live = [
      { name: 'stable-1', group: 'stable' as const, deployedArtifact: 'a' },
      { name: 'stable-2', group: 'stable' as const, deployedArtifact: 'a' },
      { name: 'canary-1', group: 'canary' as const, deployedArtifact: 'b' },
    ];
    assert.equal(whereLive('a', live, 25), 'stable');
    assert.equal(whereLive('b', live, 25), 'canary 25 %');
    assert.equal(whereLive('b', live), 'canary');
    assert.equal(whereLive('c', live, 25), undefined);
    const half = [{ ...live[0], deployedArtifact: 'b' }, live[1], live[2]];
    assert.equal(whereLive('b', half, 0), 'stable-1 (stable) · canary 0 %');
  });

  it('refItem shows kind, name, commit, date with age, and the subject', () => {
    const now = Date.parse('2026-12-02T12:00:00Z');
    assert.deepEqual(
      refItem({ kind: 'tag', name: 'v1.2.0', commit: 'abc1234', date: '2026-11-30T12:00:00.000Z', subject: 'Release 1.2.0' }, now),
      {
        label: '$(tag) v1.2.0',
        description: 'abc1234 · 2026-11-30 · 2 d ago',
        detail: 'Release 1.2.0',
      },
    );
    assert.equal(refItem({ kind: 'branch', name: 'main', commit: 'def5678', subject: '' }, now).label, '$(git-branch) main');
    assert.equal(refItem({ kind: 'branch', name: 'main', commit: 'def5678', subject: '' }, now).detail, '(no subject)');
  });

  it('releaseTargetsText names each backend’s version before and after, or why it cannot go back', () => {
    assert.equal(
      releaseTargetsText([
        { backend: 'canary-1', current: { version: '1.3.0' }, previous: { version: '1.2.0' } },
        { backend: 'canary-2', current: { version: '1.3.0' }, problem: 'no previous release' },
      ]),
      'canary-1: 1.3.0 → 1.2.0\ncanary-2: no previous release',
    );
  });
});
