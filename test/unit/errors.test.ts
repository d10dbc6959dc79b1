import * as assert from 'node:assert/strict';
import { InputError, OperationError, describeError, emptyGroupError, noLoadBalancerError } from '../../src/core/errors';

describe('errors', () => {
  it('InputError takes location and hint by name and formats file:line:column: message — hint', () => {
    const e = new InputError('bad key', { location: { file: 'rollout.json', line: 3, column: 5 }, hint: 'Remove it.' });
    assert.equal(e.format(), 'rollout.json:3:5: bad key — Remove it.');
    assert.equal(describeError(e), 'rollout.json:3:5: bad key — Remove it.');
    assert.equal(new InputError('plain').format(), 'plain');
    assert.equal(new InputError('hinted', { hint: 'Do X.' }).format(), 'hinted — Do X.');
  });

  it('OperationError names its subject by kind and carries it into a wrapping error', () => {
    const cause = new Error('boom');
    const e = new OperationError('reload failed', { step: 'reload', lb: 'lb-1', cause });
    assert.equal(e.step, 'reload');
    assert.equal(e.lb, 'lb-1');
    assert.equal(e.backend, undefined);
    assert.equal(e.cause, cause);
    assert.deepEqual(e.subject, { lb: 'lb-1' });
    const wrapped = new OperationError('outer', { ...e.subject, step: e.step, cause: e });
    assert.deepEqual([wrapped.step, wrapped.lb, wrapped.cause], ['reload', 'lb-1', e]);
    assert.equal('cause' in new OperationError('no cause'), false);
  });

  it('the repeated errors say the same words everywhere', () => {
    assert.equal(noLoadBalancerError().format(), 'No load balancer is configured — Add one to "loadBalancers" in rollout.json.');
    assert.equal(
      emptyGroupError('canary', 'There is nothing to promote.').format(),
      'No backend is in the "canary" group — There is nothing to promote.',
    );
  });
});
