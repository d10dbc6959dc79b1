import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_TOTAL_WEIGHT,
  computeWeights,
  formatSplit,
  parseHeader,
  parseUpstreams,
  renderUpstream,
  toBasisPoints,
} from '../../src/core/traffic/render';
import type { RenderInput } from '../../src/core/traffic/render';
import { InputError } from '../../src/core/errors';

type B = RenderInput['backends'][number];

function backends(stableWeights: number[], canaryWeights: number[]): B[] {
  let port = 9000;
  return [
    ...stableWeights.map((weight, i) => ({ name: `s-${i}`, group: 'stable' as const, upstream: `127.0.0.1:${port++}`, weight })),
    ...canaryWeights.map((weight, i) => ({ name: `c-${i}`, group: 'canary' as const, upstream: `127.0.0.1:${port++}`, weight })),
  ];
}

function input(bs: B[], split: number, mode: 'weighted' | 'sticky' = 'weighted', extra: Partial<RenderInput> = {}): RenderInput {
  return {
    lb: { name: 'edge', upstream: 'myapp' },
    backends: bs,
    split,
    mode,
    stickyKey: 'address',
    forceHeader: 'X-Canary',
    forceCookie: 'canary',
    time: new Date('2026-01-02T03:04:05.000Z'),
    ...extra,
  };
}

/** Checks a weighted file against the split with integer arithmetic only. */
function checkWeighted(text: string, bs: B[], bp: number): void {
  const ups = parseUpstreams(text);
  assert.deepEqual([...ups.keys()], ['myapp']);
  const servers = ups.get('myapp')!;
  const byAddress = new Map(bs.map((b) => [b.upstream, b]));
  let canary = 0n;
  let stable = 0n;
  for (const s of servers) {
    const b = byAddress.get(s.address)!;
    assert.ok(b, `unknown server ${s.address}`);
    assert.ok(Number.isInteger(s.weight) && s.weight >= 1 && s.weight <= MAX_TOTAL_WEIGHT, `weight ${s.weight}`);
    if (s.backup) {
      assert.equal(b.group, 'stable');
      continue;
    }
    if (b.group === 'canary') canary += BigInt(s.weight);
    else stable += BigInt(s.weight);
  }
  assert.ok(canary + stable <= BigInt(MAX_TOTAL_WEIGHT), 'total within nginx limits');
  // canary / (canary + stable) == bp / 10000, exactly.
  assert.equal(canary * 10000n, BigInt(bp) * (canary + stable), `ratio ${canary}/${canary + stable} vs ${bp}/10000`);
  const canaryServers = servers.filter((s) => byAddress.get(s.address)!.group === 'canary');
  const stableServers = servers.filter((s) => byAddress.get(s.address)!.group === 'stable');
  if (bp === 0) assert.equal(canaryServers.length, 0, 'no canary server at 0 %');
  else assert.equal(canaryServers.length, bs.filter((b) => b.group === 'canary').length);
  assert.equal(stableServers.length, bs.filter((b) => b.group === 'stable').length, 'every stable server stays');
  if (bp === 10000)
    assert.ok(
      stableServers.every((s) => s.backup),
      'stable servers are backup at 100 %',
    );
  else assert.ok(servers.every((s) => !s.backup));
  // Within a group each server's share follows its configured weight (to within rounding).
  for (const group of [canaryServers, stableServers]) {
    if (group.some((s) => s.backup) || group.length === 0) continue;
    const total = group.reduce((a, s) => a + BigInt(s.weight), 0n);
    const wsum = group.reduce((a, s) => a + BigInt(byAddress.get(s.address)!.weight), 0n);
    for (const s of group) {
      const diff = BigInt(s.weight) * wsum - total * BigInt(byAddress.get(s.address)!.weight);
      assert.ok((diff < 0n ? -diff : diff) <= 2n * wsum, `server ${s.address} weight ${s.weight} off its share`);
    }
  }
}

const weightsArb = fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 20 });
const evenArb = fc.array(fc.constant(1), { minLength: 1, maxLength: 20 });

import { STATUS_PORT_BASE, parseStatusAnswer, statusAddress, statusAddressIn } from '../../src/core/traffic/generation';

describe('traffic render', () => {
  it('gives the split exactly for every 0.01 % step and 1–20 servers a group (equal weights)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), evenArb, evenArb, (bp, s, c) => {
        const bs = backends(s, c);
        checkWeighted(renderUpstream(input(bs, bp / 100)), bs, bp);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the split exactly with any per-backend weights', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), weightsArb, weightsArb, (bp, s, c) => {
        const bs = backends(s, c);
        checkWeighted(renderUpstream(input(bs, bp / 100)), bs, bp);
      }),
      { numRuns: 3000 },
    );
  });

  it('walks every split from 0 to 100 in 0.01 steps for one shape', () => {
    const bs = backends([1, 1], [1]);
    for (let bp = 0; bp <= 10000; bp++) checkWeighted(renderUpstream(input(bs, bp / 100)), bs, bp);
  });

  it('keeps group totals exact when exact per-backend weights would pass the nginx limit', () => {
    // 1997 is prime and 999 shares nothing with 1997 or 9999: the exact form needs ~2e10.
    const bs = backends([1000, 997], [999]);
    const servers = computeWeights(bs, 1);
    const total = servers.reduce((a, s) => a + s.weight, 0);
    assert.ok(total <= MAX_TOTAL_WEIGHT);
    checkWeighted(renderUpstream(input(bs, 0.01)), bs, 1);
  });

  it('uses small weights for round splits', () => {
    const bs = backends([1, 1, 1], [1]);
    const text = renderUpstream(input(bs, 25));
    // 25 % over 3 stable + 1 canary: canary 1, each stable 1.
    assert.deepEqual(
      parseUpstreams(text)
        .get('myapp')!
        .map((s) => s.weight),
      [1, 1, 1, 1],
    );
    assert.match(
      text,
      /^# phar-rollout split=25\.00 mode=weighted time=2026-01-02T03:04:05\.000Z generation=25\.00-20260102T030405\.000Z-[0-9a-f]{8}$/m,
    );
  });

  it('writes a header that parseHeader reads back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), fc.constantFrom('weighted' as const, 'sticky' as const), (bp, mode) => {
        const h = parseHeader(renderUpstream(input(backends([1], [1]), bp / 100, mode)));
        assert.ok(h);
        assert.equal(Math.round(h.split * 100), bp);
        assert.equal(h.mode, mode);
        assert.equal(h.time, '2026-01-02T03:04:05.000Z');
        assert.match(h.generation!, new RegExp(`^${(bp / 100).toFixed(2).replace('.', '\\.')}-20260102T030405\\.000Z-[0-9a-f]{8}$`));
      }),
    );
    // Files written before generations still parse (no generation).
    assert.deepEqual(parseHeader('# phar-rollout split=5.00 mode=weighted time=2026-01-01T00:00:00.000Z\n'), {
      split: 5,
      mode: 'weighted',
      time: '2026-01-01T00:00:00.000Z',
    });
    assert.equal(parseHeader('# phar-rollout split=5.00 mode=weighted time=t generation=$x\n'), undefined);
    assert.equal(parseHeader('upstream x {}\n'), undefined);
    assert.equal(parseHeader('# phar-rollout split=101.00 mode=weighted time=x\n'), undefined);
  });

  it('renders sticky mode with two upstreams, split_clients and the force maps', () => {
    const bs = backends([1, 2], [1]);
    const text = renderUpstream(input(bs, 33.33, 'sticky'));
    const ups = parseUpstreams(text);
    assert.deepEqual([...ups.keys()], ['myapp_stable', 'myapp_canary']);
    assert.deepEqual(
      ups.get('myapp_stable')!.map((s) => s.weight),
      [1, 2],
    );
    assert.match(text, /split_clients "\$remote_addr" \$myapp_split \{\n {4}33\.33% canary;\n {4}\* stable;\n\}/);
    assert.match(text, /map \$http_x_canary \$myapp_side \{\n {4}default \$myapp_cookie_side;\n {4}canary canary;\n {4}stable stable;\n\}/);
    assert.match(text, /map \$cookie_canary \$myapp_cookie_side \{\n {4}default \$myapp_split;/);
    assert.match(text, /map \$myapp_side \$myapp_backend \{\n {4}default myapp_stable;\n {4}canary myapp_canary;\n\}/);
  });

  it('sticky split_clients percentages are the split with two decimals and never pass 100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), (bp) => {
        const text = renderUpstream(input(backends([1], [1]), bp / 100, 'sticky'));
        const block = /split_clients "[^"]+" \$myapp_split \{\n([\s\S]*?)\n\}/.exec(text)![1];
        const lines = block
          .trim()
          .split('\n')
          .map((l) => l.trim());
        let sum = 0;
        let canaryBp = 0;
        for (const l of lines) {
          const m = /^(\d{1,3}(?:\.\d{1,2})?)% (canary|stable);$/.exec(l);
          if (m) {
            const v = Math.round(Number(m[1]) * 100);
            sum += v;
            if (m[2] === 'canary') canaryBp += v;
          } else {
            assert.match(l, /^\* (canary|stable);$/);
            assert.equal(l, lines[lines.length - 1], '"*" comes last');
            if (l === '* canary;') canaryBp += 10000 - sum;
          }
        }
        assert.ok(sum <= 10000);
        assert.equal(canaryBp, bp);
      }),
    );
  });

  it('keys sticky mode on a cookie, falling back to the address', () => {
    const text = renderUpstream(
      input(backends([1], [1]), 10, 'sticky', { stickyKey: 'cookie:sid', forceHeader: 'X-Force-Side', forceCookie: 'force_side' }),
    );
    assert.match(text, /map \$cookie_sid \$myapp_sticky_key \{\n {4}"" \$remote_addr;\n {4}default \$cookie_sid;\n\}/);
    assert.match(text, /split_clients "\$myapp_sticky_key" \$myapp_split/);
    assert.match(text, /map \$http_x_force_side \$myapp_side/);
    assert.match(text, /map \$cookie_force_side \$myapp_cookie_side/);
  });

  it('at 0 % sticky mode works without a canary group', () => {
    const text = renderUpstream(input(backends([1], []), 0, 'sticky'));
    assert.deepEqual([...parseUpstreams(text).keys()], ['myapp_stable']);
    assert.doesNotMatch(text, /myapp_canary/);
  });

  it('refuses a split without a canary group, and splits outside 0–100 or with three decimals', () => {
    assert.throws(() => renderUpstream(input(backends([1], []), 5)), InputError);
    assert.throws(() => renderUpstream(input(backends([1], [1]), 100.01)), /outside 0–100/);
    assert.throws(() => renderUpstream(input(backends([1], [1]), -1)), /outside 0–100/);
    assert.throws(() => renderUpstream(input(backends([1], [1]), 1.005)), /two decimals/);
    assert.throws(() => renderUpstream(input(backends([1], [1]), Number.NaN)), /not a number/);
  });

  it('refuses names and addresses that could break out of nginx syntax', () => {
    const ok = backends([1], [1]);
    const hostile = ['x;}', 'a b', 'x\n}', '$x', 'x{', '"x"', "x'", 'x#', ''];
    for (const h of hostile) {
      assert.throws(
        () => renderUpstream({ ...input(ok, 5), lb: { name: 'edge', upstream: h } }),
        /Refusing/,
        `upstream ${JSON.stringify(h)}`,
      );
      if (h === '') continue;
      assert.throws(
        () => renderUpstream(input([{ ...ok[0], upstream: `127.0.0.1:80${h}` }, ok[1]], 5)),
        /Refusing/,
        `address ${JSON.stringify(h)}`,
      );
      assert.throws(() => renderUpstream(input([{ ...ok[0], name: `n${h}` }, ok[1]], 5)), /Refusing/, `name ${JSON.stringify(h)}`);
      assert.throws(() => renderUpstream(input(ok, 5, 'sticky', { forceHeader: `X${h}` })), /Refusing/, `header ${JSON.stringify(h)}`);
      assert.throws(() => renderUpstream(input(ok, 5, 'sticky', { forceCookie: `c${h}` })), /Refusing/, `cookie ${JSON.stringify(h)}`);
      assert.throws(() => renderUpstream(input(ok, 5, 'sticky', { stickyKey: `cookie:a${h}` })), /Refusing/, `key ${JSON.stringify(h)}`);
    }
    assert.throws(() => renderUpstream(input([{ ...ok[0], weight: 0 }, ok[1]], 5)), /Refusing/);
    assert.throws(() => renderUpstream(input([{ ...ok[0], weight: 1.5 }, ok[1]], 5)), /Refusing/);
  });

  it('formats and converts splits', () => {
    assert.equal(formatSplit(25), '25');
    assert.equal(formatSplit(25.5), '25.5');
    assert.equal(formatSplit(33.33), '33.33');
    assert.equal(formatSplit(0.07), '0.07');
    assert.equal(toBasisPoints(12.34), 1234);
    assert.equal(toBasisPoints(0.29), 29); // 0.29 * 100 is 28.999999999999996 in floating point
  });

  it('puts a status server on a loopback address in every file, answering the generation', () => {
    const text = renderUpstream({ ...input(backends([1], [1]), 25), generation: '25.00-20260102T030405.000Z-0123abcd' });
    const addr = statusAddressIn(text)!;
    const port = Number(addr.split(':')[1]);
    assert.match(addr, /^127\.0\.0\.1:\d+$/);
    assert.ok(port >= STATUS_PORT_BASE && port < STATUS_PORT_BASE + 1000, addr);
    const body = /return 200 '(.*)';/.exec(text)![1];
    assert.deepEqual(parseStatusAnswer(body), {
      generation: '25.00-20260102T030405.000Z-0123abcd',
      split: 25,
      lb: 'edge',
      mode: 'weighted',
    });
    assert.equal(statusAddress({ name: 'edge', file: '/x', status: '[::1]:8089' }), '[::1]:8089');
    assert.throws(() => statusAddress({ name: 'edge', file: '/x', status: '10.0.0.1:80' }), /not a loopback host:port/);
    assert.throws(() => renderUpstream({ ...input(backends([1], [1]), 25), generation: "x'; evil" }), /Refusing to write the generation/);
  });
});
