import { parseDocument } from 'yaml';

/**
 * `outpost rollout create` flags (or a spec file) → the body of
 * POST /v1/rollouts. Pure; syntax errors name the flag. The API checks
 * everything else and names the field.
 */
export class RolloutSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RolloutSpecError';
  }
}

export interface RolloutFlags {
  app?: string;
  to?: string;
  selector?: string;
  device: string[];
  waves?: string;
  exponential?: string;
  canary: string[];
  canarySelector?: string;
  rate?: string;
  successThreshold?: string;
  maxFailure?: string;
  minSample?: string;
  deviceTimeout?: string;
  onFailure?: string;
  startAt?: string;
  window?: string;
  deviceWindow: string[];
  windowLabel?: string;
  priority?: string;
  id?: string;
}

/** Waves used when neither --waves nor --exponential is given: one device, then 10%, then the rest. */
export const DEFAULT_WAVES = '1,10%,100%';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90", "45s", "30m", "2h", "1d" → seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) throw new RolloutSpecError(`${flag} must be a duration like 90s, 30m, 2h or 1d, got ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] ?? 1);
}

/** "1,5%,25%,100%": cumulative counts or percentages. */
export function parseWaves(text: string): (number | string)[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new RolloutSpecError(`--waves must be a comma-separated list like ${DEFAULT_WAVES}, got ${JSON.stringify(text)}`);
  return items.map((s) => {
    if (/^\d+$/.test(s)) return Number(s);
    if (/^\d+(\.\d+)?%$/.test(s)) return s;
    throw new RolloutSpecError(`--waves entries are device counts (5) or percentages (25%), got ${JSON.stringify(s)}`);
  });
}

/** "INITIAL:FACTOR", e.g. 2:2 → 2, 4, 8, … devices per wave. */
export function parseExponential(text: string): { kind: 'exponential'; initial: number; factor: number } {
  const m = /^(\d+):(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m) throw new RolloutSpecError(`--exponential must be INITIAL:FACTOR, e.g. 1:2, got ${JSON.stringify(text)}`);
  return { kind: 'exponential', initial: Number(m[1]), factor: Number(m[2]) };
}

/** "CRON|MINUTES|TZ", e.g. "0 2 * * *|120|Europe/Berlin". */
export function parseWindow(text: string, flag: string): { cron: string; durationMinutes: number; timezone: string } {
  const parts = text.split('|').map((s) => s.trim());
  const [cron, minutes, timezone] = parts;
  if (parts.length !== 3 || !cron || !minutes || !timezone || !/^\d+$/.test(minutes)) {
    throw new RolloutSpecError(`${flag} must be 'CRON|MINUTES|TIMEZONE', e.g. '0 2 * * *|120|Europe/Berlin', got ${JSON.stringify(text)}`);
  }
  return { cron, durationMinutes: Number(minutes), timezone };
}

function number(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/%$/, ''));
  if (text.trim() === '' || !Number.isFinite(n)) throw new RolloutSpecError(`${flag} must be a number, got ${JSON.stringify(text)}`);
  return n;
}

/** The API body from flags; undefined fields are left to the API's defaults. */
export function specFromFlags(f: RolloutFlags): Record<string, unknown> {
  if (!f.app) throw new RolloutSpecError('--app is required (or give --file)');
  if (!f.to) throw new RolloutSpecError('--to VERSION is required (or give --file)');
  if ((f.selector === undefined) === (f.device.length === 0)) throw new RolloutSpecError('give either --selector SELECTOR or --device ID (one or more), not both');
  if (f.waves !== undefined && f.exponential !== undefined) throw new RolloutSpecError('give --waves or --exponential, not both');
  if (f.onFailure !== undefined && f.onFailure !== 'pause' && f.onFailure !== 'rollback') {
    throw new RolloutSpecError(`--on-failure must be pause or rollback, got ${JSON.stringify(f.onFailure)}`);
  }
  const windows: Record<string, unknown> = {};
  for (const item of f.deviceWindow) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new RolloutSpecError(`--device-window must be NAME='CRON|MINUTES|TIMEZONE', got ${JSON.stringify(item)}`);
    windows[item.slice(0, eq)] = parseWindow(item.slice(eq + 1), '--device-window');
  }
  const canary = {
    ...(f.canary.length ? { devices: f.canary } : {}),
    ...(f.canarySelector !== undefined ? { selector: f.canarySelector } : {}),
  };
  const spec: Record<string, unknown> = {
    ...(f.id !== undefined ? { id: f.id } : {}),
    app: f.app,
    toVersion: f.to,
    target: f.selector !== undefined ? { kind: 'selector', selector: f.selector } : { kind: 'devices', devices: f.device },
    waves: f.exponential !== undefined ? parseExponential(f.exponential) : { kind: 'sizes', sizes: parseWaves(f.waves ?? DEFAULT_WAVES) },
    ...(Object.keys(canary).length ? { canary } : {}),
    ratePerMinute: number(f.rate, '--rate'),
    successThresholdPct: number(f.successThreshold, '--success-threshold'),
    maxFailurePct: number(f.maxFailure, '--max-failure'),
    minSampleSize: number(f.minSample, '--min-sample'),
    deviceTimeoutSeconds: f.deviceTimeout !== undefined ? parseDuration(f.deviceTimeout, '--device-timeout') : undefined,
    failureAction: f.onFailure,
    startAt: f.startAt !== undefined ? isoTime(f.startAt) : undefined,
    window: f.window !== undefined ? parseWindow(f.window, '--window') : undefined,
    ...(Object.keys(windows).length ? { windows } : {}),
    deviceWindowLabel: f.windowLabel,
    priority: number(f.priority, '--priority'),
  };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  return spec;
}

function isoTime(text: string): string {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new RolloutSpecError(`--start-at must be a date-time like 2026-12-01T02:00:00Z, got ${JSON.stringify(text)}`);
  return new Date(t).toISOString();
}

/** A spec file (YAML or JSON, the API's RolloutSpec fields). */
export function specFromFile(text: string, filename: string): Record<string, unknown> {
  let doc: unknown;
  if (/\.json$/i.test(filename)) {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new RolloutSpecError(`${filename} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    const parsed = parseDocument(text, { prettyErrors: true });
    const first = parsed.errors[0];
    if (first) throw new RolloutSpecError(`${filename} is not valid YAML: ${(first.message.split('\n')[0] ?? '').replace(/:$/, '')}`);
    doc = parsed.toJS();
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RolloutSpecError(`${filename} must hold a map of rollout fields (app, toVersion, target, waves, …)`);
  return doc as Record<string, unknown>;
}
