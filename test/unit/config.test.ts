import * as assert from 'node:assert/strict';
import { parseRolloutConfig } from '../../src/core/config/rolloutConfig';
import { ANALYSIS_SCHEMA } from '../../src/core/analysis/analysisConfig';
import schema from '../../schema/rollout.schema.json';
import { parseComposerJson } from '../../src/core/config/composerJson';
import { renderStarterRolloutJson } from '../../src/core/config/starter';
import { InputErrors } from '../../src/core/errors';
import type { InputError } from '../../src/core/errors';

function errorsOf(fn: () => unknown): InputError[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputErrors, `expected InputErrors, got ${err}`);
    return err.errors;
  }
  assert.fail('expected an error');
}

const valid = `{
  // comment
  "app": "shop",
  "backends": [
    { "name": "web-1", "group": "stable", "upstream": "10.0.0.1:8000", "ssh": "deploy@10.0.0.1", "dir": "/srv/shop" },
    { "name": "web-2", "group": "canary", "upstream": "10.0.0.2:8000", "dir": "rel/dir" },
  ],
  "loadBalancers": [{ "name": "edge", "file": "/etc/nginx/x.conf", "upstream": "shop" }]
}`;

describe('rollout.json', () => {
  it('parses JSON with comments and applies defaults', () => {
    const c = parseRolloutConfig('/p/rollout.json', valid);
    assert.equal(c.app, 'shop');
    assert.equal(c.backends[0].dir, '/srv/shop', 'remote dir kept as written');
    assert.equal(c.backends[1].dir, '/p/rel/dir', 'local dir resolved against the project');
    assert.equal(c.backends[0].weight, 1);
    assert.deepEqual(c.traffic.steps, [1, 5, 25, 50, 100]);
    assert.deepEqual(c.loadBalancers[0].test, ['nginx', '-t', '-q']);
    assert.equal(c.keepReleases, 5);
  });

  it('locates a syntax error', () => {
    const [e] = errorsOf(() => parseRolloutConfig('/p/rollout.json', '{\n  "app": "x",\n  "backends": [,]\n}'));
    assert.equal(e.location?.line, 3);
    assert.equal(e.location?.column, 16);
    assert.match(e.message, /value expected/);
  });

  it('names an unknown property at its key, with the allowed ones', () => {
    const text = valid.replace('"app": "shop",', '"app": "shop",\n  "bakends": [],');
    const [e] = errorsOf(() => parseRolloutConfig('/p/rollout.json', text));
    assert.match(e.message, /Unknown property "bakends"/);
    assert.equal(e.location?.line, 4);
    assert.equal(e.location?.column, 3);
    assert.match(e.hint ?? '', /backends/);
  });

  it('names the backend of a wrong value, with the allowed values', () => {
    const bad = valid.replace('"group": "canary"', '"group": "blue"');
    assert.notEqual(bad, valid);
    const [e] = errorsOf(() => parseRolloutConfig('/p/rollout.json', bad));
    assert.equal(e.message, 'backend "web-2": "group" must be one of "stable", "canary"');
  });

  it('rejects names and addresses that could break out of nginx syntax, located', () => {
    const bad = valid.replace('"10.0.0.2:8000"', '"10.0.0.2:80; } server evil:1"');
    const errors = errorsOf(() => parseRolloutConfig('/p/rollout.json', bad));
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /^backend "web-2": "upstream" has an invalid value/, 'named by the backend, not its index');
    assert.equal(errors[0].location?.line, 6);
    const badName = valid.replace('"upstream": "shop"', '"upstream": "shop;include /etc/passwd"');
    assert.match(errorsOf(() => parseRolloutConfig('/p/rollout.json', badName))[0].message, /^load balancer "[^"]+": "upstream"/);
    const badSsh = valid.replace('"deploy@10.0.0.1"', '"-oProxyCommand=touch /tmp/x"');
    assert.ok(errorsOf(() => parseRolloutConfig('/p/rollout.json', badSsh)).some((e) => /ssh/.test(e.message)));
  });

  it('reports semantic problems: duplicates, no stable backend, decreasing steps', () => {
    const dup = valid.replace('"name": "web-2"', '"name": "web-1"');
    const [d] = errorsOf(() => parseRolloutConfig('/p/rollout.json', dup));
    assert.equal(d.message, 'backend "web-1" is listed twice');
    assert.match(d.hint ?? '', /first backend "web-1" is on line \d+/);
    // The obvious fix, for the editor's quick fix: remove the second entry.
    assert.deepEqual(d.removal, { path: ['backends', 1], title: 'Remove the duplicate backend "web-1"' });
    const noStable = valid.replace('"group": "stable"', '"group": "canary"');
    assert.match(errorsOf(() => parseRolloutConfig('/p/rollout.json', noStable))[0].message, /stable/);
    const steps = valid.replace('"loadBalancers"', '"traffic": { "steps": [5, 1] },\n  "loadBalancers"');
    assert.equal(
      errorsOf(() => parseRolloutConfig('/p/rollout.json', steps))[0].message,
      '"traffic.steps.1" must be greater than the step before',
    );
  });

  it('reads a plan with observe times and pauses, the analysis section, notify and the access log', () => {
    const text = valid
      .replace(
        '"loadBalancers"',
        `"traffic": { "steps": [1, { "weight": 25, "observe": "2m" }, { "pause": true }, 100] },
  "analysis": { "interval": "30s", "observe": "1m", "minRequests": 80, "autoPromote": true },
  "notify": { "webhooks": ["http://127.0.0.1:9/hook"], "timeout": "2s" },
  "loadBalancers"`,
      )
      .replace('"upstream": "shop" }', '"upstream": "shop", "accessLog": "/var/log/nginx/shop-rollout.log" }');
    const c = parseRolloutConfig('/p/rollout.json', text);
    assert.deepEqual(c.traffic.steps, [1, 25, 100]);
    assert.deepEqual(c.traffic.plan, [
      { kind: 'weight', weight: 1, observeMs: 60000 },
      { kind: 'weight', weight: 25, observeMs: 120000 },
      { kind: 'pause' },
      { kind: 'weight', weight: 100, observeMs: 60000 },
    ]);
    assert.equal(c.analysis?.intervalMs, 30000);
    assert.equal(c.analysis?.minRequests, 80);
    assert.equal(c.analysis?.autoPromote, true);
    assert.deepEqual(c.notify, { webhooks: ['http://127.0.0.1:9/hook'], timeoutMs: 2000 });
    assert.equal(c.loadBalancers[0].accessLog, '/var/log/nginx/shop-rollout.log');
    // Default: beside the managed file.
    assert.equal(parseRolloutConfig('/p/rollout.json', valid).loadBalancers[0].accessLog, '/etc/nginx/phar-rollout-access.log');
  });

  it('locates a bad plan item and an analysis interval longer than observe', () => {
    const pauseFirst = valid.replace('"loadBalancers"', '"traffic": { "steps": [{ "pause": true }, 10] },\n  "loadBalancers"');
    const [e] = errorsOf(() => parseRolloutConfig('/p/rollout.json', pauseFirst));
    assert.match(e.message, /^"traffic\.steps\.0": a pause step must follow a weight step/);
    assert.equal(e.location?.line, 8);
    const badAnalysis = valid.replace('"loadBalancers"', '"analysis": { "interval": "10m", "observe": "1m" },\n  "loadBalancers"');
    assert.match(errorsOf(() => parseRolloutConfig('/p/rollout.json', badAnalysis))[0].message, /longer than analysis.observe/);
    const badObserve = valid.replace(
      '"loadBalancers"',
      '"traffic": { "steps": [{ "weight": 10, "observe": "soon" }] },\n  "loadBalancers"',
    );
    assert.ok(errorsOf(() => parseRolloutConfig('/p/rollout.json', badObserve)).length > 0);
  });

  it("the schema's analysis section is the analysis library's own fragment", () => {
    const { definitions, ...fragment } = ANALYSIS_SCHEMA;
    assert.deepEqual(JSON.parse(JSON.stringify(schema.properties.analysis)), JSON.parse(JSON.stringify(fragment)));
    assert.deepEqual(schema.definitions.duration, definitions.duration);
  });

  it('requires an absolute dir on a remote backend', () => {
    const rel = valid.replace('"/srv/shop"', '"srv/shop"');
    const [e] = errorsOf(() => parseRolloutConfig('/p/rollout.json', rel));
    assert.match(e.message, /^backend "[^"]+": "dir" must be absolute/);
    assert.equal(e.location?.line, 5);
  });
});

describe('composer.json', () => {
  it('reads name, short name and version', () => {
    const c = parseComposerJson('/p/composer.json', '{"name": "acme/shop", "version": "1.2.0", "require": {"php": ">=8.1"}}');
    assert.equal(c.shortName, 'shop');
    assert.equal(c.version, '1.2.0');
    assert.equal(c.hasRequirements, false);
  });
  it('refuses comments (composer does) and bad versions, located', () => {
    assert.equal(errorsOf(() => parseComposerJson('/p/composer.json', '{\n // x\n "name": "a/b"}'))[0].location?.line, 2);
    const [e] = errorsOf(() => parseComposerJson('/p/composer.json', '{\n  "name": "acme/shop",\n  "version": "one"\n}'));
    assert.deepEqual([e.location?.line, e.location?.column], [3, 14]);
  });
});

describe('starter rollout.json', () => {
  it('is valid as written and named after composer.json', () => {
    const text = renderStarterRolloutJson(parseComposerJson('/p/composer.json', '{"name": "acme/shop"}'));
    const c = parseRolloutConfig('/p/rollout.json', text);
    assert.equal(c.app, 'shop');
    assert.equal(c.backends.length, 2);
  });
});
