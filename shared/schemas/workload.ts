import { z } from 'zod';
import { WorkloadName } from '../device-id.js';
import { ImageReference } from '../image-ref.js';
import { LIMITS } from '../limits.js';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'env names must match ^[A-Za-z_][A-Za-z0-9_]*$');
const LabelKey = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9._/-]{0,126}[a-z0-9])?$/, 'label keys must be lower-case DNS-like, e.g. com.example.role')
  .refine((k) => !k.startsWith('io.outpost.'), 'label keys under io.outpost. are reserved for the agent');
const Port = z.number().int().min(1).max(65535);
const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/[^\0]*$/, 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

export const PortMapping = z.strictObject({
  container: Port,
  host: Port,
  protocol: z.enum(['tcp', 'udp']).default('tcp'),
  hostIp: z.union([z.ipv4(), z.ipv6()]).optional().describe('Host address to bind; all addresses when absent'),
});

export const VolumeMount = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('volume'),
    name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/),
    target: AbsolutePath,
    readOnly: z.boolean().default(false),
  }),
  z.strictObject({
    type: z.literal('bind'),
    source: AbsolutePath,
    target: AbsolutePath,
    readOnly: z.boolean().default(false),
  }),
  z.strictObject({
    type: z.literal('tmpfs'),
    target: AbsolutePath,
    sizeBytes: z.number().int().positive().optional(),
  }),
]);

export const RestartPolicy = z.enum(['no', 'always', 'unless-stopped', 'on-failure']);

/**
 * A Linux capability as Docker names it (`NET_ADMIN`, no `CAP_` prefix, never
 * `ALL`). Granted only when the device's own policy allows it (DD-024).
 */
export const Capability = z
  .string()
  .regex(/^(?!CAP_|ALL$)[A-Z][A-Z0-9_]{1,31}$/, 'capabilities are named like NET_ADMIN: upper case, no CAP_ prefix, not ALL')
  .describe('Linux capability without the CAP_ prefix, e.g. NET_ADMIN');

export const Resources = z.strictObject({
  memoryBytes: z.number().int().min(4 * 1024 * 1024).optional().describe('Hard memory limit in bytes'),
  cpus: z.number().positive().max(1024).optional().describe('CPU quota in cores, e.g. 0.5'),
  pidsLimit: z.number().int().positive().optional(),
});

/**
 * How the agent decides a new container is healthy. `cmd` runs inside the
 * container (Docker health check); `http` and `tcp` are probed by the agent
 * against the container's address. Without one, the image's own HEALTHCHECK
 * counts if it has one, else "running" counts as healthy.
 */
export const HealthCheck = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('cmd'),
    command: z.array(z.string().max(4096)).min(1).max(64).describe('Run inside the container; exit 0 = healthy'),
    intervalSeconds: z.number().int().min(1).max(3600).default(5),
    timeoutSeconds: z.number().int().min(1).max(600).default(3),
    retries: z.number().int().min(1).max(100).default(3),
    startPeriodSeconds: z.number().int().min(0).max(3600).default(0),
  }),
  z.strictObject({
    type: z.literal('http'),
    port: z.number().int().min(1).max(65535).describe('Container port'),
    path: z.string().regex(/^\//, 'must start with /').max(2048).default('/'),
    expectStatus: z.array(z.number().int().min(100).max(599)).max(20).optional().describe('Default: any 2xx or 3xx'),
    intervalSeconds: z.number().int().min(1).max(3600).default(5),
    timeoutSeconds: z.number().int().min(1).max(600).default(3),
    retries: z.number().int().min(1).max(100).default(3),
    startPeriodSeconds: z.number().int().min(0).max(3600).default(0),
  }),
  z.strictObject({
    type: z.literal('tcp'),
    port: z.number().int().min(1).max(65535).describe('Container port'),
    intervalSeconds: z.number().int().min(1).max(3600).default(5),
    timeoutSeconds: z.number().int().min(1).max(600).default(3),
    retries: z.number().int().min(1).max(100).default(3),
    startPeriodSeconds: z.number().int().min(0).max(3600).default(0),
  }),
]);
export type HealthCheck = z.infer<typeof HealthCheck>;

export const UpdateStrategy = z
  .enum(['download-then-kill', 'kill-then-download', 'delete-then-download', 'hand-over'])
  .describe(
    'download-then-kill: pull, then replace (default). kill-then-download: stop the old container first (little memory). ' +
      'delete-then-download: stop it and delete its image first (little disk; a rollback must pull again). ' +
      'hand-over: start the new container beside the old one and stop the old once the new is healthy.',
  );
export type UpdateStrategy = z.infer<typeof UpdateStrategy>;

/**
 * One container the device should run. Strict: an unknown field is an error,
 * so an agent never half-applies a document written for a newer protocol.
 */
export const WorkloadSpec = z
  .strictObject({
    image: ImageReference,
    command: z.array(z.string().max(4096)).max(256).optional().describe('Replaces the image CMD'),
    entrypoint: z.array(z.string().max(4096)).max(64).optional().describe('Replaces the image ENTRYPOINT'),
    env: z
      .record(EnvName, z.string().max(32 * 1024))
      .refine((e) => Object.keys(e).length <= LIMITS.maxEnvEntries, `at most ${LIMITS.maxEnvEntries} env entries`)
      .optional(),
    ports: z.array(PortMapping).max(LIMITS.maxPorts).optional(),
    volumes: z.array(VolumeMount).max(LIMITS.maxVolumes).optional(),
    restart: RestartPolicy.default('unless-stopped'),
    restartMaxRetries: z.number().int().min(0).max(1000).optional().describe('Only with restart: on-failure'),
    resources: Resources.optional(),
    labels: z
      .record(LabelKey, z.string().max(1024))
      .refine((l) => Object.keys(l).length <= LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`)
      .optional(),
    user: z.string().max(256).optional(),
    workingDir: AbsolutePath.optional(),
    stopTimeoutSeconds: z.number().int().min(0).max(3600).default(10),
    pullPolicy: z
      .enum(['if-not-present', 'always'])
      .default('if-not-present')
      .describe('if-not-present never contacts the registry for an image already on the device'),
    health: HealthCheck.optional(),
    minReadySeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(0)
      .describe('An update succeeds once the new container has been running and healthy this long; otherwise it is rolled back'),
    strategy: UpdateStrategy.default('download-then-kill'),
    capabilities: z
      .array(Capability)
      .max(64)
      .optional()
      .describe(
        'Capabilities beyond the default set; the device refuses (DESIRED_POLICY) any its operator did not allow. ' +
          'Optional without a default, so specs without it keep their hash',
      ),
  })
  .describe('A container the device runs');
export type WorkloadSpec = z.infer<typeof WorkloadSpec>;
export type WorkloadSpecInput = z.input<typeof WorkloadSpec>;

export const WorkloadMap = z
  .record(WorkloadName, WorkloadSpec)
  .refine((w) => Object.keys(w).length <= LIMITS.maxWorkloads, `at most ${LIMITS.maxWorkloads} workloads`);
