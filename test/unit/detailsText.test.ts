import * as assert from 'node:assert/strict';
import { backendDetails, loadBalancerDetails } from '../../src/vscode/detailsText';
import type { BackendConfig, LoadBalancerConfig } from '../../src/core/config/rolloutConfig';

describe('vscode detailsText (Show Details, Enter on a backend or load balancer row)', () => {
  const backend: BackendConfig = {
    name: 'canary-1',
    group: 'canary',
    upstream: '127.0.0.1:9001',
    dir: '/srv/app',
    weight: 1,
    runtime: 'fpm',
  };
  it('a backend: live state first, then rollout.json, one column of names', () => {
    const text = backendDetails(backend, {
      name: 'canary-1',
      group: 'canary',
      served: '1.3.0',
      deployed: '1.3.0',
      healthy: true,
      latencyMs: 12.4,
      drift: false,
    });
    const lines = text.split('\n');
    assert.equal(lines[0], 'Backend canary-1 (canary)');
    assert.ok(lines.includes('  state     healthy'), text);
    assert.ok(lines.includes('  latency   12 ms'), text);
    assert.ok(lines.includes('  host      this machine'), text);
    assert.ok(lines.indexOf('Live (last probe)') < lines.indexOf('rollout.json'));
  });
  it('an unreachable backend says why and shows no latency; server text is escaped', () => {
    const text = backendDetails(backend, {
      name: 'canary-1',
      group: 'canary',
      healthy: false,
      latencyMs: 3,
      error: 'refused\u001b[31m',
      drift: false,
    });
    assert.match(text, /state +unreachable: refused\\e\[31m/);
    assert.doesNotMatch(text, /latency/);
    assert.doesNotMatch(text, /\u001b/);
  });
  it('a load balancer: the split nginx serves, a disagreement with its file, where it is', () => {
    const lb = {
      name: 'edge',
      file: '/etc/nginx/conf.d/up.conf',
      upstream: 'shop',
      status: '127.0.0.1:8099',
      test: ['nginx', '-t'],
      reload: ['nginx', '-g', 'pid /run/a b.pid;', '-s', 'reload'],
    } as LoadBalancerConfig;
    const text = loadBalancerDetails(lb, { name: 'edge', split: 0, fileSplit: 50, drift: 'x', generation: 'g-7' });
    assert.match(text, /^Load balancer edge \(nginx\)/);
    assert.match(text, /nginx serves +canary 0 %/);
    assert.match(text, /file says +canary 50 %/);
    assert.match(text, /disagreement +file 50 %, nginx serves 0 %/);
    assert.match(text, /status endpoint +http:\/\/127\.0\.0\.1:8099\//);
    assert.match(text, /test +nginx -t\n/);
    assert.match(text, /reload +nginx -g "pid \/run\/a b\.pid;" -s reload/);
    assert.match(loadBalancerDetails(lb, undefined), /nginx serves +unknown/);
  });
});
