import * as path from 'node:path';
import Ajv from 'ajv';
import type { ErrorObject } from 'ajv';
import schema from '../../../schema/rollout.schema.json';
import type { InputError } from '../errors';
import { InputErrors } from '../errors';
import { JsonDocument, pointerToPath } from './jsonDocument';
import { quoted, safeText } from '../safeText';
import { parseDuration, resolveAnalysisConfig } from '../analysis/analysisConfig';
import type { AnalysisConfig, AnalysisConfigInput } from '../analysis/analysisConfig';
import { PlanError, resolvePlan } from '../analysis/plan';
import type { PlanStep, PlanStepInput } from '../analysis/plan';

export type Group = 'stable' | 'canary';
/** An array runs as exact arguments; a string runs through the target's `sh -c`. */
export type CommandSpec = string | string[];

export interface BackendConfig {
  name: string;
  group: Group;
  upstream: string;
  ssh?: string;
  /** Absolute: resolved against rollout.json's folder for local backends. */
  dir: string;
  probe?: string;
  restart?: CommandSpec;
  weight: number;
  /** How a new release gets served (see schema): php-server | fpm | custom (default: custom, run `restart`). */
  runtime?: BackendRuntime;
  /** Take out of rotation before a restart (default true; owned by the drain work). */
  drain?: boolean;
  drainSeconds?: number;
}

export type BackendRuntime = 'php-server' | 'fpm' | 'custom';

export interface LoadBalancerConfig {
  name: string;
  ssh?: string;
  /** Absolute: resolved against rollout.json's folder for local LBs. */
  file: string;
  upstream: string;
  test: CommandSpec;
  reload: CommandSpec;
  url?: string;
  /** Loopback host:port of the status endpoint the managed file defines (default: see statusAddress). */
  status?: string;
  /** nginx's pid file on the LB host (default: the `pid` directive of `nginx -T`, else /run/nginx.pid). */
  pidFile?: string;
  /** nginx's error log on the LB host (default: the `error_log` of `nginx -T`, else /var/log/nginx/error.log). */
  errorLog?: string;
  /** Access log in the phar_rollout format (the managed file writes it); read by the canary analysis. Use accessLogOf(). */
  accessLog?: string;
}

/** The access log's default name, beside the managed file. */
export const DEFAULT_ACCESS_LOG = 'phar-rollout-access.log';

/** The LB's access log: as configured, else phar-rollout-access.log beside the managed file. */
export function accessLogOf(lb: Pick<LoadBalancerConfig, 'file' | 'accessLog'>): string {
  return lb.accessLog ?? path.posix.join(path.posix.dirname(lb.file), DEFAULT_ACCESS_LOG);
}

export interface RolloutConfig {
  /** Absolute path of rollout.json. */
  file: string;
  /** Folder holding rollout.json: the project. */
  projectDir: string;
  app?: string;
  build: { composer: string[]; box: string; config?: string };
  backends: BackendConfig[];
  loadBalancers: LoadBalancerConfig[];
  traffic: {
    mode: 'weighted' | 'sticky';
    /** The plan's weights in order (pause items left out): what ramp --next walks. */
    steps: number[];
    /** The plan as written: weights with their observation time, and pauses (absent: the steps, observed for analysis.observe). */
    plan?: PlanStep[];
    stickyKey: string;
    forceHeader: string;
    forceCookie: string;
  };
  gates: { samples: number; maxErrorRate: number; maxP95Ms: number; autoRollback: boolean; path?: string };
  probe: { timeoutMs: number; deployDeadlineMs: number };
  deploy: { concurrency: number };
  keepReleases: number;
  /** How the canary is judged on real traffic (defaults applied; absent: DEFAULT_ANALYSIS). */
  analysis?: AnalysisConfig;
  notify?: { webhooks: string[]; timeoutMs: number };
}

export const DEFAULT_COMPOSER_ARGS = ['install', '--no-dev', '--optimize-autoloader', '--no-interaction'];
export const ROLLOUT_FILE = 'rollout.json';

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(value: unknown): ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema);
  return validator(value) ? [] : (validator.errors ?? []);
}

/**
 * Parses and validates rollout.json text. Throws InputErrors with every problem, each located
 * (file, line, column) with a hint; returns a config with defaults applied and local paths resolved.
 */
export function parseRolloutConfig(file: string, text: string): RolloutConfig {
  const doc = JsonDocument.parse(file, text);
  const raw = doc.value();
  const errors = schemaErrors(doc, validate(raw));
  if (errors.length === 0) errors.push(...semanticErrors(doc, raw as RawConfig));
  if (errors.length > 0) throw new InputErrors(errors);
  return withDefaults(file, raw as RawConfig);
}

type RawConfig = {
  app?: string;
  build?: { composer?: string[]; box?: string; config?: string };
  backends: Array<Omit<BackendConfig, 'weight'> & { weight?: number }>;
  loadBalancers?: Array<Partial<LoadBalancerConfig> & { name: string; file: string; upstream: string }>;
  traffic?: Partial<Omit<RolloutConfig['traffic'], 'steps' | 'plan'>> & { steps?: PlanStepInput[] };
  analysis?: AnalysisConfigInput;
  notify?: { webhooks?: string[]; timeout?: string | number };
  gates?: Partial<RolloutConfig['gates']>;
  probe?: Partial<RolloutConfig['probe']>;
  deploy?: Partial<RolloutConfig['deploy']>;
  keepReleases?: number;
};

function withDefaults(file: string, raw: RawConfig): RolloutConfig {
  const projectDir = path.dirname(path.resolve(file));
  const analysis = resolveAnalysisConfig(raw.analysis);
  const plan = resolvePlan(raw.traffic?.steps ?? [1, 5, 25, 50, 100], analysis);
  const local = (p: string, ssh?: string) => (ssh ? p : path.resolve(projectDir, p));
  return {
    file: path.resolve(file),
    projectDir,
    app: raw.app,
    build: { composer: raw.build?.composer ?? DEFAULT_COMPOSER_ARGS, box: raw.build?.box ?? 'auto', config: raw.build?.config },
    backends: raw.backends.map((b) => ({ ...b, dir: local(b.dir, b.ssh), weight: b.weight ?? 1 })),
    loadBalancers: (raw.loadBalancers ?? []).map((lb) => ({
      ...lb,
      file: local(lb.file, lb.ssh),
      test: lb.test ?? ['nginx', '-t', '-q'],
      reload: lb.reload ?? ['nginx', '-s', 'reload'],
      accessLog: accessLogOf({ file: local(lb.file, lb.ssh), accessLog: lb.accessLog && local(lb.accessLog, lb.ssh) }),
    })),
    traffic: {
      mode: raw.traffic?.mode ?? 'weighted',
      steps: plan.flatMap((p) => (p.kind === 'weight' ? [p.weight] : [])),
      plan,
      stickyKey: raw.traffic?.stickyKey ?? 'address',
      forceHeader: raw.traffic?.forceHeader ?? 'X-Canary',
      forceCookie: raw.traffic?.forceCookie ?? 'canary',
    },
    gates: {
      samples: raw.gates?.samples ?? 20,
      maxErrorRate: raw.gates?.maxErrorRate ?? 0.01,
      maxP95Ms: raw.gates?.maxP95Ms ?? 800,
      autoRollback: raw.gates?.autoRollback ?? true,
      path: raw.gates?.path,
    },
    probe: { timeoutMs: raw.probe?.timeoutMs ?? 2000, deployDeadlineMs: raw.probe?.deployDeadlineMs ?? 30000 },
    deploy: { concurrency: raw.deploy?.concurrency ?? 4 },
    keepReleases: raw.keepReleases ?? 5,
    analysis,
    notify: { webhooks: raw.notify?.webhooks ?? [], timeoutMs: parseDuration(raw.notify?.timeout ?? '5s') ?? 5000 },
  };
}

function schemaErrors(doc: JsonDocument, errors: ErrorObject[]): InputError[] {
  // `oneOf` failures repeat the branch errors; keep the most specific one per location.
  const seen = new Set<string>();
  const out: InputError[] = [];
  for (const e of errors) {
    if (e.keyword === 'oneOf') continue;
    const p = pointerToPath(e.instancePath);
    let message: string;
    let hint: string | undefined;
    let key = false;
    let replacements: string[] | undefined;
    // Key names come from the file: quoted and escaped, never raw terminal text.
    const where = e.instancePath ? whereIn(doc, p) : 'rollout.json';
    switch (e.keyword) {
      case 'additionalProperties': {
        const prop = (e.params as { additionalProperty: string }).additionalProperty;
        p.push(prop);
        key = true;
        message = `Unknown property ${quoted(prop)} in ${where}`;
        hint = `Remove it or check its spelling; allowed: ${allowedKeys(e.parentSchema)}`;
        break;
      }
      case 'required':
        message = `${where} is missing "${(e.params as { missingProperty: string }).missingProperty}"`;
        hint = 'Add the property.';
        break;
      case 'enum': {
        const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
        message = `${where} must be one of ${allowed.join(', ')}`;
        replacements = allowed;
        break;
      }
      case 'pattern':
        message = `${where} has an invalid value`;
        hint =
          (e.parentSchema as { description?: string } | undefined)?.description ??
          `It must match ${(e.params as { pattern: string }).pattern}`;
        break;
      case 'not':
        message = `${where} must not start with "-"`;
        hint = 'An ssh destination is user@host or a Host alias.';
        break;
      default:
        message = `${where} ${e.message ?? 'is invalid'}`;
    }
    const err = doc.error(p, message, hint, { key, replacements });
    const id = `${err.location?.line}:${err.location?.column}:${message}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(err);
    }
  }
  return out;
}

/** Where, in the user's words: `backend "canary-1": "group"` for an item with a name, else `"a.b.c"`. */
function whereIn(doc: JsonDocument, p: Array<string | number>): string {
  const [list, index, ...rest] = p;
  const kind = list === 'backends' ? 'backend' : list === 'loadBalancers' ? 'load balancer' : undefined;
  if (kind && typeof index === 'number') {
    const item = (doc.value() as Record<string, unknown> | undefined)?.[list];
    const name = Array.isArray(item) ? (item[index] as { name?: unknown } | undefined)?.name : undefined;
    if (typeof name === 'string' && name !== '')
      return rest.length ? `${kind} ${quoted(name)}: ${quoted(rest.join('.'))}` : `${kind} ${quoted(name)}`;
  }
  return quoted(p.join('.'));
}

function allowedKeys(parentSchema: unknown): string {
  const props = (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props
    ? Object.keys(props)
        .filter((k) => k !== '$schema')
        .join(', ')
    : '';
}

function semanticErrors(doc: JsonDocument, raw: RawConfig): InputError[] {
  const errors: InputError[] = [];
  const unique = (list: Array<{ name: string }>, field: 'backends' | 'loadBalancers') => {
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const first = seen.get(item.name);
      if (first === undefined) {
        seen.set(item.name, i);
        return;
      }
      const where = whereIn(doc, [field, i]);
      const line = doc.locationOf([field, first]).line;
      errors.push(
        doc.error([field, i, 'name'], `${where} is listed twice`, `Names must be unique; the first ${where} is on line ${line}.`, {
          removal: { path: [field, i], title: `Remove the duplicate ${where}` },
        }),
      );
    });
  };
  unique(raw.backends, 'backends');
  unique(raw.loadBalancers ?? [], 'loadBalancers');
  if (!raw.backends.some((b) => b.group === 'stable')) {
    errors.push(
      doc.error(['backends'], 'No backend is in the "stable" group', 'A rollout needs at least one stable backend to fall back on.'),
    );
  }
  // Every fault names where it is the one way whereIn writes it: `backend "canary-1": "upstream" …`.
  const fault = (p: Array<string | number>, message: string, hint: string) => doc.error(p, `${whereIn(doc, p)} ${message}`, hint);
  const upstreams = new Map<string, number>();
  raw.backends.forEach((b, i) => {
    const port = Number(b.upstream.slice(b.upstream.lastIndexOf(':') + 1));
    if (!(port >= 1 && port <= 65535))
      errors.push(fault(['backends', i, 'upstream'], `has port ${port}, out of range`, 'Use a port between 1 and 65535.'));
    const other = upstreams.get(b.upstream);
    if (other !== undefined) {
      errors.push(
        fault(
          ['backends', i, 'upstream'],
          `${safeText(b.upstream)} is already used by ${whereIn(doc, ['backends', other])}`,
          'Each backend needs its own host:port.',
        ),
      );
    } else upstreams.set(b.upstream, i);
    if (b.ssh && !b.dir.startsWith('/'))
      errors.push(
        fault(['backends', i, 'dir'], 'must be absolute on a remote backend', 'Write the full path on the server, e.g. /srv/myapp.'),
      );
    if (b.runtime === 'php-server' && !b.restart) {
      errors.push(
        fault(
          ['backends', i, 'runtime'],
          '"php-server" needs a "restart" hook: php -S never notices that current moved',
          'Add "restart" (a command that restarts php -S on current), or use "runtime": "fpm" for a php-fpm pool.',
        ),
      );
    }
  });
  (raw.loadBalancers ?? []).forEach((lb, i) => {
    if (lb.ssh && !lb.file.startsWith('/')) {
      errors.push(
        fault(
          ['loadBalancers', i, 'file'],
          'must be absolute on a remote load balancer',
          'Write the full path, e.g. /etc/nginx/conf.d/myapp-upstream.conf.',
        ),
      );
    }
  });
  const weights = (raw.traffic?.steps ?? []).flatMap((s, i) =>
    typeof s === 'number' ? [{ s, i }] : 'weight' in s && typeof s.weight === 'number' ? [{ s: s.weight, i }] : [],
  );
  weights.forEach(({ s, i }, k) => {
    const at = typeof raw.traffic!.steps![i] === 'number' ? ['traffic', 'steps', i] : ['traffic', 'steps', i, 'weight'];
    if (k > 0 && s <= weights[k - 1].s) errors.push(fault(at, 'must be greater than the step before', `${s} follows ${weights[k - 1].s}.`));
    if (Math.round(s * 100) !== s * 100) errors.push(fault(at, `(${s}) has more than two decimals`, 'Use a precision of 0.01 %.'));
  });
  if (errors.length === 0) {
    let analysis: AnalysisConfig | undefined;
    try {
      analysis = resolveAnalysisConfig(raw.analysis);
    } catch (err) {
      errors.push(doc.error(['analysis'], (err as Error).message, 'See "How the canary is judged" in the README.'));
    }
    if (analysis) {
      try {
        resolvePlan(raw.traffic?.steps ?? [], analysis);
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        errors.push(
          doc.error(
            ['traffic', 'steps', err.index],
            `${whereIn(doc, ['traffic', 'steps', err.index])}: ${err.detail}`,
            'Write a percentage, { "weight": 25, "observe": "5m" } or { "pause": true }.',
          ),
        );
      }
    }
  }
  return errors;
}

/** Reads `<dir>/rollout.json`; undefined when the project has none. */
export async function readRolloutConfig(dir: string): Promise<RolloutConfig | undefined> {
  const file = path.join(dir, ROLLOUT_FILE);
  let text: string;
  try {
    text = await (await import('node:fs')).promises.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseRolloutConfig(file, text);
}
