import fc from 'fast-check';
import { deviceIdArb, envNameArb, keyArb, labelKeyArb, timestampArb, workloadSpecArb } from './protocol.js';

/**
 * Valid request bodies of the controller API, by operationId: the starting
 * points the fuzzer mutates into structurally near-valid ones. Names are
 * drawn partly from `known` (entities the test created first), so valid
 * requests reach the code behind the 404s.
 */

export interface KnownEntities {
  devices: readonly string[];
  app: string;
  version: string;
  workload: string;
}

const labelValueArb = fc.stringMatching(/^([A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?)?$/);
const labelsArb = fc.dictionary(labelKeyArb, labelValueArb, { maxKeys: 3 });
const appArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/);
const versionArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,20}$/);
const secretArb = fc.string({ minLength: 32, maxLength: 64, unit: 'grapheme-ascii' });
const selectorArb = fc.constantFrom('site=berlin', 'tier in (a,b)', '!canary', 'role', 'site!=x,role');

export function bodyArbs(known: KnownEntities): Record<string, fc.Arbitrary<unknown>> {
  const device = fc.oneof(fc.constantFrom(...known.devices), deviceIdArb);
  const app = fc.oneof(fc.constant(known.app), appArb);
  const version = fc.oneof(fc.constant(known.version), versionArb);
  const target = fc.oneof(
    fc.record({ kind: fc.constant('devices'), devices: fc.array(device, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('selector'), selector: selectorArb }),
  );
  const window = fc.record({ cron: fc.constantFrom('0 2 * * *', '*/15 * * * *'), durationMinutes: fc.integer({ min: 1, max: 1440 }), timezone: fc.constantFrom('UTC', 'Europe/Berlin') });
  const envPatch = fc.dictionary(envNameArb, fc.option(fc.string({ maxLength: 20 }), { nil: null }), { maxKeys: 3 });
  return {
    createDevice: fc.record({ id: deviceIdArb, labels: labelsArb, secret: secretArb }, { requiredKeys: ['id'] }),
    rotateDeviceSecret: fc.record({ secret: secretArb }, { requiredKeys: [] }),
    patchDeviceLabels: fc.record({ set: labelsArb, remove: fc.array(labelKeyArb, { maxLength: 2 }) }, { requiredKeys: [] }),
    patchDeviceOverrides: fc.record({ env: envPatch, workloadEnv: fc.dictionary(keyArb(/^[a-z0-9][a-z0-9_-]{0,20}$/), envPatch, { maxKeys: 2 }) }, { requiredKeys: [] }),
    pinDeviceApp: fc.record({ version }),
    createRelease: fc.record(
      { app, version: versionArb, workloads: fc.dictionary(keyArb(/^[a-z0-9][a-z0-9_-]{0,20}$/), workloadSpecArb({ bindMounts: false }), { minKeys: 1, maxKeys: 2 }), notes: fc.string({ maxLength: 40 }) },
      { requiredKeys: ['app', 'version', 'workloads'] },
    ),
    createDeployment: fc.record(
      { app, version, target, priority: fc.integer({ min: -1_000_000, max: 1_000_000 }), id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/) },
      { requiredKeys: ['app', 'version', 'target'] },
    ),
    sendCommand: fc.oneof(
      fc.record({ type: fc.constantFrom('ping', 'resync'), ttlSeconds: fc.integer({ min: 1, max: 7 * 86_400 }), waitSeconds: fc.constant(0) }, { requiredKeys: ['type', 'waitSeconds'] }),
      fc.record({ type: fc.constant('restart'), workload: fc.constant(known.workload), waitSeconds: fc.constant(0) }),
      fc.record({ type: fc.constant('logs'), workload: fc.constant(known.workload), tail: fc.integer({ min: 1, max: 1000 }), waitSeconds: fc.constant(0) }, { requiredKeys: ['type', 'workload', 'waitSeconds'] }),
    ),
    createRollout: fc.record(
      {
        id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/),
        app,
        toVersion: version,
        target,
        waves: fc.oneof(
          fc.record({ kind: fc.constant('sizes'), sizes: fc.array(fc.oneof(fc.integer({ min: 1, max: 10 }), fc.constantFrom('5%', '50%', '100%', '2.5%')), { minLength: 1, maxLength: 3 }) }),
          fc.record({ kind: fc.constant('exponential'), initial: fc.integer({ min: 1, max: 10 }), factor: fc.double({ min: 1.1, max: 10, noNaN: true }) }),
        ),
        canary: fc.record({ devices: fc.array(device, { maxLength: 2 }), selector: selectorArb }, { requiredKeys: [] }),
        ratePerMinute: fc.integer({ min: 1, max: 1000 }),
        successThresholdPct: fc.integer({ min: 0, max: 100 }),
        maxFailurePct: fc.integer({ min: 0, max: 100 }),
        minSampleSize: fc.integer({ min: 1, max: 100 }),
        deviceTimeoutSeconds: fc.integer({ min: 1, max: 86_400 }),
        failureAction: fc.constantFrom('pause', 'rollback'),
        startAt: timestampArb,
        window,
        windows: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9]{1,10}$/), window, { maxKeys: 2 }),
        deviceWindowLabel: labelKeyArb,
        priority: fc.integer({ min: -1_000_000, max: 1_000_000 }),
      },
      { requiredKeys: ['app', 'toVersion', 'target', 'waves'] },
    ),
    createToken: fc.record({ name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,30}$/), role: fc.constantFrom('viewer', 'operator', 'admin') }),
  };
}
