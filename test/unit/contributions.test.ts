/**
 * package.json's contributes against the extension's typed tables (src/vscode/contributions.ts),
 * both ways: commands, trust, the rows whose menus offer each command, views and context keys.
 * No vscode import: the tables and the guards are plain TypeScript.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ContextKeys, Commands, ContextValues, Views, allContextValues, commandMeta } from '../../src/vscode/contributions';
import type { CommandId, ContextValue } from '../../src/vscode/contributions';
import { isNodeOf } from '../../src/vscode/tree/viewNode';
import { CommandArgsError, commandArgs, is } from '../../src/vscode/commands/commandArgs';
import { deployProgress } from '../../src/vscode/deployProgress';
import { formatLatency, md } from '../../src/vscode/format';
import { tooltipsById, treeSignature } from '../../src/vscode/tree/treeSignature';
import type { SignedNode } from '../../src/vscode/tree/treeSignature';

interface MenuEntry {
  command: string;
  when?: string;
  group?: string;
}
interface Manifest {
  contributes: {
    commands: Array<{ command: string; enablement?: string }>;
    menus: Record<string, MenuEntry[]>;
    views: Record<string, Array<{ id: string }>>;
    viewsContainers: { activitybar: Array<{ id: string }> };
    viewsWelcome: Array<{ view: string; contents: string; when?: string }>;
  };
}

const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as Manifest;
const contributes = manifest.contributes;
const tableIds = Object.values(Commands) as string[];

/** `viewItem == x`, `viewItem != x` and `viewItem =~ /re/flags` terms of a when clause. */
const VIEW_ITEM_TERM = /viewItem\s*(==|!=|=~)\s*(\/(?:\\.|[^/\\])*\/[a-z]*|[^\s&|)]+)/g;

function termMatcher(op: string, operand: string): (value: string) => boolean {
  if (op === '=~') {
    const m = /^\/(.*)\/([a-z]*)$/.exec(operand);
    assert.ok(m, `a regex literal after =~: ${operand}`);
    const re = new RegExp(m[1], m[2]);
    return (v) => re.test(v);
  }
  return op === '==' ? (v) => v === operand : (v) => v !== operand;
}

/**
 * Whether a menu entry's `when` can be true on a row with this context value. Terms other than
 * viewItem are taken as satisfiable (they are context keys the row does not decide); the clause is
 * read as a disjunction of conjunctions, which is all package.json uses (parentheses are refused).
 */
function showsOn(when: string | undefined, value: string): boolean {
  if (!when) return true;
  const terms: Array<(v: string) => boolean> = [];
  const shape = when.replace(VIEW_ITEM_TERM, (_, op: string, operand: string) => `T${terms.push(termMatcher(op, operand)) - 1}`);
  assert.ok(!/[()]/.test(shape), `this test reads no parentheses in when clauses: ${when}`);
  return shape.split('||').some((conj) =>
    conj.split('&&').every((raw) => {
      const t = /^\s*(!?)\s*T(\d+)\s*$/.exec(raw);
      if (!t) {
        assert.ok(!/viewItem/.test(raw), `an unread viewItem term in: ${when}`);
        return true;
      }
      const hit = terms[Number(t[2])](value);
      return t[1] ? !hit : hit;
    }),
  );
}

function viewItemTerms(when: string): string[] {
  return [...when.matchAll(VIEW_ITEM_TERM)].map((m) => m[0]);
}

const itemMenus = contributes.menus['view/item/context'];

describe('package.json contributes ⇄ the typed tables', () => {
  it('every contributed command is in the table, and every table command is contributed', () => {
    const contributed = contributes.commands.map((c) => c.command);
    assert.deepEqual([...contributed].sort(), [...tableIds].sort());
    assert.equal(new Set(contributed).size, contributed.length, 'no command is contributed twice');
  });

  it('enablement is isWorkspaceTrusted exactly for the commands whose table entry needs trust', () => {
    for (const c of contributes.commands) {
      const meta = commandMeta[c.command as CommandId];
      assert.equal(c.enablement, meta.needsTrust ? 'isWorkspaceTrusted' : undefined, `${c.command}: enablement vs needsTrust`);
    }
  });

  it('every menu entry names a command of the table', () => {
    for (const [menu, entries] of Object.entries(contributes.menus))
      for (const e of entries) assert.ok(tableIds.includes(e.command), `${menu}: ${e.command} is not in the command table`);
  });

  it('every viewItem clause matches some declared context value', () => {
    for (const e of itemMenus) {
      assert.ok(e.when && viewItemTerms(e.when).length > 0, `${e.command} in view/item/context has no viewItem clause`);
      for (const term of viewItemTerms(e.when)) {
        const matched = allContextValues.filter((v) => showsOn(term, v));
        assert.ok(matched.length > 0, `${e.command}: "${term}" matches no context value of ${JSON.stringify(allContextValues)}`);
      }
    }
  });

  for (const kind of ['inline', 'context'] as const) {
    it(`each command's ${kind} menu shows on exactly the rows its table entry names`, () => {
      for (const id of tableIds as CommandId[]) {
        const entries = itemMenus.filter((e) => e.command === id && (e.group ?? '').startsWith('inline') === (kind === 'inline'));
        const shown = allContextValues.filter((v) => entries.some((e) => showsOn(e.when, v)));
        assert.deepEqual([...shown].sort(), [...(commandMeta[id][kind] ?? [])].sort(), `${id} (${kind})`);
      }
    });
  }

  it("the last build's row shows the inline Build button (its value is 'build copyable')", () => {
    const build = itemMenus.filter((e) => e.command === Commands.build && e.group?.startsWith('inline'));
    assert.ok(build.some((e) => showsOn(e.when, ContextValues.lastBuild)));
    assert.ok(build.some((e) => showsOn(e.when, ContextValues.noBuild)));
    // The reader itself: the old clause would not have shown on it.
    assert.equal(showsOn('viewItem == build || viewItem == project', ContextValues.lastBuild), false);
  });

  it('views and context keys in when clauses are the declared ones', () => {
    const views = Object.values(contributes.views).flatMap((list) => list.map((v) => v.id));
    assert.deepEqual(views.sort(), [Views.project, Views.rollout].sort());
    assert.deepEqual(
      contributes.viewsContainers.activitybar.map((c) => c.id),
      [Views.container],
    );
    const clauses = [
      ...Object.values(contributes.menus).flatMap((l) => l.map((e) => e.when ?? '')),
      ...contributes.viewsWelcome.map((w) => w.when ?? ''),
      ...contributes.commands.map((c) => c.enablement ?? ''),
    ];
    const known = new Set<string>([...Object.values(ContextKeys), ...Object.values(Views)]);
    for (const when of clauses)
      for (const [key] of when.matchAll(/pharRollout\.\w+/g)) assert.ok(known.has(key), `unknown context key ${key} in "${when}"`);
    for (const w of contributes.viewsWelcome)
      for (const [, cmd] of w.contents.matchAll(/\(command:([\w.]+)\)/g)) assert.ok(tableIds.includes(cmd), `welcome link ${cmd}`);
  });
});

describe('isNodeOf (command arguments from tree menus)', () => {
  const item = { label: 'x' };
  it('narrows a node by kind and checks its fields', () => {
    assert.equal(isNodeOf({ item, target: { kind: 'group', group: 'canary' } }, 'group'), true);
    assert.equal(isNodeOf({ item, target: { kind: 'backend', name: 'b', group: 'stable' } }, 'backend', 'group'), true);
    assert.equal(isNodeOf({ item, target: { kind: 'artifact', artifactId: 'a' } }, 'artifact'), true);
  });
  it('refuses other kinds, wrong fields and things that are not nodes', () => {
    assert.equal(isNodeOf({ item, target: { kind: 'loadBalancer', name: 'edge' } }, 'group'), false);
    assert.equal(isNodeOf({ item, target: { kind: 'group', group: 'blue' } }, 'group'), false);
    assert.equal(isNodeOf({ item, target: { kind: 'backend', name: 1, group: 'stable' } }, 'backend'), false);
    assert.equal(isNodeOf({ target: { kind: 'group', group: 'canary' } }, 'group'), false, 'no item');
    assert.equal(isNodeOf({ item, target: { kind: 'toString' } }, 'group'), false);
    for (const v of [undefined, null, 'pharRollout.deploy', 3, [], { item }]) assert.equal(isNodeOf(v, 'group', 'artifact'), false);
  });
});

describe('commandArgs (scripted arguments)', () => {
  const spec = { percent: is.number, confirm: is.boolean, speed: is.oneOf('traffic', 'release') };
  it('keeps the declared fields of the right type', () => {
    assert.deepEqual(commandArgs('x', { percent: 25, confirm: false, speed: 'traffic' }, spec), {
      percent: 25,
      confirm: false,
      speed: 'traffic',
    });
    assert.deepEqual(commandArgs('x', undefined, spec), {});
    assert.deepEqual(commandArgs('x', [{ item: {} }], spec), {}, "a tree menu's selection is not scripted input");
  });
  it('refuses a wrong type, an unknown key or a non-object, naming the command and the field', () => {
    assert.throws(() => commandArgs('pharRollout.ramp', { percent: '25' }, spec), /pharRollout\.ramp: argument "percent"/);
    assert.throws(() => commandArgs('x', { percent: Number.NaN }, spec), CommandArgsError);
    assert.throws(() => commandArgs('x', { speed: 'rebuild' }, spec), /"speed"/);
    assert.throws(() => commandArgs('x', { precent: 25 }, spec), /unknown argument "precent"/);
    assert.throws(() => commandArgs('x', 'traffic', spec), /must be an object/);
  });
});

describe('deployProgress', () => {
  it('never passes 100 %, with queued and every step of every backend reported', () => {
    const progress = deployProgress(2);
    let total = 0;
    const steps = ['queued', 'lock', 'upload', 'upload', 'verify', 'record', 'switch', 'restart', 'probe', 'prune', 'done'] as const;
    for (const b of ['a', 'b']) for (const s of steps) total += progress(b, s) ?? 0;
    assert.ok(Math.abs(total - 100) < 1e-9, `total ${total}`);
    assert.equal(progress('a', 'done'), undefined, 'a repeated step adds nothing');
  });
  it('a backend that skips steps still ends at its share', () => {
    const progress = deployProgress(1);
    const total = ['queued', 'lock', 'switch', 'done'].reduce((t, s) => t + (progress('a', s as 'lock') ?? 0), 0);
    assert.ok(Math.abs(total - 100) < 1e-9, `total ${total}`);
  });
});

describe('markdown of foreign text', () => {
  it('md escapes interpolated values only', () => {
    const hostile = '1.3.0 ![x](http://evil/a.png) <img src=x> $(alert) [link](command:workbench.action.quit)';
    const out = md`**${hostile}** ok`;
    assert.ok(out.startsWith('**') && out.endsWith('** ok'));
    const inner = out.slice(2, -'** ok'.length);
    // Every markdown, HTML and icon metacharacter of the value is backslash-escaped.
    assert.equal(/(?<!\\)[!<>[\]()$*_`]/.exec(inner), null, inner);
  });
  it('formatLatency is in bands: jitter is no change, a real change is', () => {
    assert.equal(formatLatency(1.2), formatLatency(3.9));
    assert.equal(formatLatency(12), formatLatency(45));
    assert.notEqual(formatLatency(40), formatLatency(250));
    assert.equal(formatLatency(undefined), '—');
  });
});

describe('treeSignature', () => {
  const node = (tooltip: unknown, id?: string): SignedNode =>
    ({ item: { id, label: 'a', description: '1.2.0', tooltip } }) as unknown as SignedNode;
  it('a tooltip change of a row with an id is no rebuild, but tooltipsById sees it', () => {
    const before = [node({ value: '| latency | 10 ms |' }, 'backend:a')];
    const after = [node({ value: '| latency | 250 ms |' }, 'backend:a')];
    assert.equal(treeSignature(before), treeSignature(after));
    assert.notEqual(tooltipsById(before).get('backend:a')?.tooltip, tooltipsById(after).get('backend:a')?.tooltip);
    assert.equal(tooltipsById(after).get('backend:a')?.tooltip, '| latency | 250 ms |');
  });
  it('a tooltip change of a row without an id changes the signature (it cannot be updated alone)', () => {
    assert.notEqual(treeSignature([node('12 ms')]), treeSignature([node('40 ms')]));
    assert.equal(treeSignature([node({ value: 'same' })]), treeSignature([node({ value: 'same' })]));
  });
});

// The literal types keep ContextValue honest: a typo here is a compile error.
const _typed: ContextValue[] = [ContextValues.lastBuild, 'rolloutState.paused'];
void _typed;
