import fc from 'fast-check';
import { COMMAND_TYPES } from '../../../shared/schemas/command.js';
import { EVENT_TYPES } from '../../../shared/schemas/event.js';
import { DEVICE_PHASES, WORKLOAD_STATES } from '../../../shared/schemas/reported-state.js';
import { ROLLOUT_STATUS_PHASES } from '../../../shared/schemas/rollout-status.js';

/**
 * Arbitraries of VALID protocol messages, built field by field to satisfy
 * the zod schemas in shared/schemas (regexes through fc.stringMatching,
 * refinements by construction). A document one of them makes that the
 * schema refuses is a bug in the arbitrary or in the schema: the round-trip
 * properties say which.
 */

/** Small, so that a run of a few hundred documents stays fast. */
const few = { maxLength: 3 } as const;

/** Names that are also properties of every plain object: map keys must not be looked up through the prototype. */
const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'] as const;

/** Keys matching `pattern`, now and then one of the prototype names it admits. */
export function keyArb(pattern: RegExp): fc.Arbitrary<string> {
  const special = PROTOTYPE_NAMES.filter((n) => pattern.test(n));
  const plain = fc.stringMatching(pattern);
  return special.length === 0 ? plain : fc.oneof({ weight: 9, arbitrary: plain }, { weight: 1, arbitrary: fc.constantFrom(...special) });
}

export const deviceIdArb = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/);
export const workloadNameArb = keyArb(/^[a-z0-9][a-z0-9_-]{0,20}$/);
export const versionArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
export const smallVersionArb = fc.integer({ min: 1, max: 1_000_000 });
export const textArb = (maxLength: number) => fc.string({ maxLength: Math.min(maxLength, 40) });

/** RFC 3339 with `Z`, milliseconds or not, or a numeric offset. */
export const timestampArb = fc
  .tuple(fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }), fc.constantFrom('Z', 'ms', '+02:00', '-05:30'))
  .map(([d, form]) => {
    const iso = d.toISOString();
    if (form === 'ms') return iso;
    const plain = iso.replace(/\.\d{3}Z$/, '');
    return form === 'Z' ? `${plain}Z` : `${plain}${form}`;
  });

const component = fc.stringMatching(/^[a-z0-9]{1,8}([._-][a-z0-9]{1,6})?$/);
const tagArb = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/);
const digestArb = fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`);
const domainArb = fc.constantFrom('registry.local:5000', 'ghcr.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', 'reg.example.com');

export const imageArb = fc
  .record({ domain: fc.option(domainArb, { nil: undefined }), path: fc.array(component, { minLength: 1, maxLength: 3 }), tag: fc.option(tagArb, { nil: undefined }), digest: fc.option(digestArb, { nil: undefined }) })
  .map(({ domain, path, tag, digest }) => `${domain ? `${domain}/` : ''}${path.join('/')}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`);

// Not `__proto__`: receivers refuse it as a key (shared/decode.ts).
export const envNameArb = keyArb(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/).filter((n) => n !== '__proto__');
export const labelKeyArb = keyArb(/^[a-z0-9]([a-z0-9._/-]{0,20}[a-z0-9])?$/).filter((k) => !k.startsWith('io.outpost.'));
const absolutePathArb = fc.array(fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/).filter((s) => s !== '..'), { maxLength: 4 }).map((parts) => `/${parts.join('/')}`);
const portArb = fc.integer({ min: 1, max: 65535 });
const probeTimings = {
  intervalSeconds: fc.integer({ min: 1, max: 3600 }),
  timeoutSeconds: fc.integer({ min: 1, max: 600 }),
  retries: fc.integer({ min: 1, max: 100 }),
  startPeriodSeconds: fc.integer({ min: 0, max: 3600 }),
};
const healthArb = fc.oneof(
  fc.record({ type: fc.constant('cmd' as const), command: fc.array(textArb(4096), { minLength: 1, maxLength: 3 }), ...probeTimings }, { requiredKeys: ['type', 'command'] }),
  fc.record(
    { type: fc.constant('http' as const), port: portArb, path: fc.stringMatching(/^\/[a-z0-9/]{0,10}$/), expectStatus: fc.array(fc.integer({ min: 100, max: 599 }), few), ...probeTimings },
    { requiredKeys: ['type', 'port'] },
  ),
  fc.record({ type: fc.constant('tcp' as const), port: portArb, ...probeTimings }, { requiredKeys: ['type', 'port'] }),
);

const volumeArb = fc.oneof(
  fc.record({ type: fc.constant('volume' as const), name: fc.stringMatching(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,15}$/), target: absolutePathArb, readOnly: fc.boolean() }, { requiredKeys: ['type', 'name', 'target'] }),
  fc.record({ type: fc.constant('bind' as const), source: absolutePathArb, target: absolutePathArb, readOnly: fc.boolean() }, { requiredKeys: ['type', 'source', 'target'] }),
  fc.record({ type: fc.constant('tmpfs' as const), target: absolutePathArb, sizeBytes: fc.integer({ min: 1, max: 1 << 30 }) }, { requiredKeys: ['type', 'target'] }),
);

const portMappingArb = fc.record(
  { container: portArb, host: portArb, protocol: fc.constantFrom('tcp' as const, 'udp' as const), hostIp: fc.oneof(fc.ipV4(), fc.ipV6()) },
  { requiredKeys: ['container', 'host'] },
);

/** A WorkloadSpec in its input form (defaults may be omitted). `bindMounts: false` keeps it inside every device policy. */
export function workloadSpecArb(opts: { bindMounts?: boolean } = {}) {
  const volumes = opts.bindMounts === false ? volumeArb.filter((v) => v.type !== 'bind') : volumeArb;
  return fc.record(
    {
      image: imageArb,
      command: fc.array(textArb(4096), few),
      entrypoint: fc.array(textArb(4096), few),
      env: fc.dictionary(envNameArb, textArb(1024), { maxKeys: 4 }),
      ports: fc.array(portMappingArb, few),
      volumes: fc.array(volumes, few),
      restart: fc.constantFrom('no' as const, 'always' as const, 'unless-stopped' as const, 'on-failure' as const),
      restartMaxRetries: fc.integer({ min: 0, max: 1000 }),
      resources: fc.record(
        { memoryBytes: fc.integer({ min: 4 * 1024 * 1024, max: 2 ** 40 }), cpus: fc.double({ min: 0.01, max: 1024, noNaN: true }), pidsLimit: fc.integer({ min: 1, max: 100_000 }) },
        { requiredKeys: [] },
      ),
      labels: fc.dictionary(labelKeyArb, textArb(1024), { maxKeys: 3 }),
      user: textArb(256),
      workingDir: absolutePathArb,
      stopTimeoutSeconds: fc.integer({ min: 0, max: 3600 }),
      pullPolicy: fc.constantFrom('if-not-present' as const, 'always' as const),
      health: healthArb,
      minReadySeconds: fc.integer({ min: 0, max: 3600 }),
      strategy: fc.constantFrom('download-then-kill' as const, 'kill-then-download' as const, 'delete-then-download' as const, 'hand-over' as const),
      capabilities: fc.array(fc.stringMatching(/^[A-Z][A-Z0-9_]{1,15}$/).filter((c) => !c.startsWith('CAP_') && c !== 'ALL'), few),
    },
    { requiredKeys: ['image'] },
  );
}

const signatureArb = fc.record({ alg: fc.constant('ed25519'), keyId: fc.stringMatching(/^ed25519:[0-9a-f]{16}$/), value: fc.base64String({ maxLength: 88 }) });
const trustedKeyArb = fc.record({ keyId: fc.stringMatching(/^ed25519:[0-9a-f]{16}$/), publicKey: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
const windowArb = fc.record({
  cron: fc.constantFrom('0 2 * * *', '*/5 * * * *', '30 1 * * 1-5'),
  durationMinutes: fc.integer({ min: 1, max: 1440 }),
  timezone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
});

/** A DesiredState in its input form: the JSON a controller publishes. */
export function desiredStateArb(opts: { deviceId?: fc.Arbitrary<string>; version?: fc.Arbitrary<number>; bindMounts?: boolean } = {}) {
  return fc.record(
    {
      protocol: fc.constant(1 as const),
      deviceId: opts.deviceId ?? deviceIdArb,
      version: opts.version ?? versionArb,
      issuedAt: timestampArb,
      expiresAt: timestampArb,
      workloads: fc.dictionary(workloadNameArb, workloadSpecArb({ bindMounts: opts.bindMounts ?? true }), { maxKeys: 3 }),
      provenance: fc.dictionary(workloadNameArb, fc.record({ deployment: textArb(128), release: textArb(192), rollout: textArb(128) }, { requiredKeys: [] }), { maxKeys: 2 }),
      signature: fc.oneof(fc.constant(null), signatureArb, fc.array(signatureArb, { minLength: 1, maxLength: 2 })),
      trust: fc.record({ keys: fc.array(trustedKeyArb, { minLength: 1, maxLength: 2 }) }),
      apply: fc.record({ after: timestampArb, window: windowArb }, { requiredKeys: [] }),
      force: fc.boolean(),
      registryAuth: fc.dictionary(
        fc.stringMatching(/^[A-Za-z0-9.-]{1,20}(:\d{1,5})?$/),
        fc.record({ username: fc.string({ minLength: 1, maxLength: 20 }), password: fc.string({ minLength: 1, maxLength: 40 }) }),
        { maxKeys: 2 },
      ),
    },
    { requiredKeys: ['protocol', 'deviceId', 'version', 'issuedAt', 'workloads'] },
  );
}

const nullableVersion = fc.option(versionArb, { nil: null });
const workloadStatusArb = fc.record(
  {
    state: fc.constantFrom(...WORKLOAD_STATES),
    reason: textArb(1024),
    image: textArb(512),
    imageId: fc.option(textArb(128), { nil: null }),
    imageDigest: fc.option(textArb(600), { nil: null }),
    containerId: fc.option(textArb(128), { nil: null }),
    specHash: fc.option(textArb(128), { nil: null }),
    exitCode: fc.option(fc.integer(), { nil: null }),
    restartCount: fc.nat(),
    startedAt: fc.option(timestampArb, { nil: null }),
  },
  { requiredKeys: ['state', 'reason', 'image', 'imageId', 'imageDigest', 'containerId', 'specHash'] },
);
const errorCodeArb = fc.stringMatching(/^[A-Z][A-Z0-9_]{1,20}$/);

export function reportedStateArb(opts: { deviceId?: fc.Arbitrary<string> } = {}) {
  return fc.record(
    {
      protocol: fc.constant(1 as const),
      deviceId: opts.deviceId ?? deviceIdArb,
      reportedAt: timestampArb,
      agent: fc.record({ version: textArb(64), bootId: textArb(128), startedAt: timestampArb }),
      desired: fc.record({ seenVersion: nullableVersion, appliedVersion: nullableVersion, applyingVersion: nullableVersion }),
      phase: fc.constantFrom(...DEVICE_PHASES),
      workloads: fc.dictionary(workloadNameArb, workloadStatusArb, { maxKeys: 3 }),
      errors: fc.array(
        fc.record({ code: errorCodeArb, message: textArb(2048), at: timestampArb, version: nullableVersion, workload: fc.option(workloadNameArb, { nil: null }) }, { requiredKeys: ['code', 'message', 'at'] }),
        few,
      ),
      deferred: fc.option(
        fc.record({ version: versionArb, reason: fc.constantFrom('window' as const, 'locked' as const), until: fc.option(timestampArb, { nil: null }), workloads: fc.array(workloadNameArb, few) }),
        { nil: null },
      ),
      rollback: fc.option(
        fc.record({
          version: versionArb,
          workload: workloadNameArb,
          reason: textArb(2048),
          exitCode: fc.option(fc.integer(), { nil: null }),
          logs: textArb(8192),
          health: fc.option(textArb(4096), { nil: null }),
          at: timestampArb,
          repullNeeded: fc.boolean(),
        }),
        { nil: null },
      ),
      rejected: fc.option(fc.record({ version: nullableVersion, code: errorCodeArb, reason: textArb(2048), at: timestampArb }), { nil: null }),
      stale: fc.option(fc.record({ version: versionArb, expiredAt: timestampArb }), { nil: null }),
    },
    { requiredKeys: ['protocol', 'deviceId', 'reportedAt', 'agent', 'desired', 'phase', 'workloads', 'errors', 'rejected'] },
  );
}

export function presenceArb(opts: { deviceId?: fc.Arbitrary<string> } = {}) {
  return fc.record(
    {
      protocol: fc.constant(1 as const),
      deviceId: opts.deviceId ?? deviceIdArb,
      status: fc.constantFrom('online' as const, 'offline' as const),
      epoch: versionArb,
      at: timestampArb,
      agentVersion: textArb(64),
      bootId: textArb(128),
    },
    { requiredKeys: ['protocol', 'deviceId', 'status', 'epoch', 'at'] },
  );
}

export function deviceEventArb(opts: { deviceId?: fc.Arbitrary<string> } = {}) {
  return fc.record(
    {
      protocol: fc.constant(1 as const),
      deviceId: opts.deviceId ?? deviceIdArb,
      id: fc.string({ minLength: 1, maxLength: 64 }),
      at: timestampArb,
      type: fc.constantFrom(...EVENT_TYPES),
      level: fc.constantFrom('info' as const, 'warn' as const, 'error' as const),
      message: textArb(2048),
      version: nullableVersion,
      workload: fc.option(workloadNameArb, { nil: null }),
      code: fc.option(textArb(64), { nil: null }),
      data: fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__'), fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')), { maxKeys: 3 }),
    },
    { requiredKeys: ['protocol', 'deviceId', 'id', 'at', 'type', 'level', 'message'] },
  );
}

export function commandArb() {
  return fc
    .record(
      {
        protocol: fc.constant(1 as const),
        id: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
        deviceId: deviceIdArb,
        type: fc.constantFrom(...COMMAND_TYPES),
        workload: workloadNameArb,
        tail: fc.integer({ min: 1, max: 1000 }),
        issuedAt: timestampArb,
        expiresAt: timestampArb,
      },
      { requiredKeys: ['protocol', 'id', 'deviceId', 'type', 'workload', 'issuedAt', 'expiresAt'] },
    )
    .chain((c) => (c.type === 'ping' || c.type === 'resync' ? fc.constantFrom(c, withoutKey(c, 'workload')) : fc.constant(c)));
}

const countArb = fc.nat({ max: 100_000 });
const waveCountsArb = fc.record({ pending: countArb, notified: countArb, applying: countArb, succeeded: countArb, failed: countArb, timedOut: countArb });

export function telemetryArb(opts: { deviceId?: fc.Arbitrary<string> } = {}) {
  const nonNeg = fc.double({ min: 0, max: 1e9, noNaN: true });
  return fc.record({
    protocol: fc.constant(1 as const),
    deviceId: opts.deviceId ?? deviceIdArb,
    at: timestampArb,
    uptimeSeconds: nonNeg,
    agentUptimeSeconds: nonNeg,
    cpu: fc.record({ cores: fc.integer({ min: 1, max: 256 }), loadAverage1m: nonNeg, usagePct: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }) }),
    memory: fc.record({ totalBytes: fc.nat(), availableBytes: fc.nat() }),
    disk: fc.record({ path: textArb(1024), totalBytes: fc.nat(), freeBytes: fc.nat() }),
    containers: fc.array(fc.record({ workload: workloadNameArb, state: textArb(32), restartCount: fc.nat() }), few),
    mqtt: fc.record({ bytesIn: fc.nat(), bytesOut: fc.nat() }),
  });
}

/** A TelemetryDelta (DD-038): every optional member may be left out. */
export function telemetryDeltaArb(opts: { deviceId?: fc.Arbitrary<string> } = {}) {
  const nonNeg = fc.double({ min: 0, max: 1e9, noNaN: true });
  const partial = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(model, { requiredKeys: [] });
  return fc.record(
    {
      protocol: fc.constant(1 as const),
      deviceId: opts.deviceId ?? deviceIdArb,
      at: timestampArb,
      base: timestampArb,
      uptimeSeconds: nonNeg,
      agentUptimeSeconds: nonNeg,
      cpu: partial({ cores: fc.integer({ min: 1, max: 256 }), loadAverage1m: nonNeg, usagePct: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }) }),
      memory: partial({ totalBytes: fc.nat(), availableBytes: fc.nat() }),
      disk: partial({ path: textArb(1024), totalBytes: fc.nat(), freeBytes: fc.nat() }),
      containers: fc.array(fc.record({ workload: workloadNameArb, state: textArb(32), restartCount: fc.nat() }), few),
      mqtt: partial({ bytesIn: fc.nat(), bytesOut: fc.nat() }),
    },
    { requiredKeys: ['protocol', 'deviceId', 'at', 'base'] },
  );
}

export function rolloutStatusArb() {
  return fc.record({
    protocol: fc.constant(1 as const),
    id: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,55}$/),
    app: textArb(64),
    toVersion: textArb(64),
    phase: fc.constantFrom(...ROLLOUT_STATUS_PHASES),
    currentWave: fc.nat({ max: 100 }),
    waves: fc.array(
      fc.record({
        index: fc.nat({ max: 100 }),
        size: countArb,
        canary: fc.boolean(),
        startedAt: fc.option(timestampArb, { nil: null }),
        evaluatedAt: fc.option(timestampArb, { nil: null }),
        outcome: fc.option(fc.constantFrom('passed' as const, 'failed' as const), { nil: null }),
        reason: fc.option(textArb(1024), { nil: null }),
        counts: waveCountsArb,
      }),
      few,
    ),
    totals: waveCountsArb,
    lateSuccesses: countArb,
    reason: fc.option(textArb(1024), { nil: null }),
    revision: fc.integer({ min: 1, max: 1_000_000 }),
    updatedAt: timestampArb,
  });
}

function withoutKey<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const { [key]: _dropped, ...rest } = value;
  return rest;
}
