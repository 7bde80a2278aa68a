import { z } from 'zod';
import { DeviceId } from '../../shared/device-id.js';
import { StateVersion, Timestamp } from '../../shared/schemas/common.js';
import { DesiredState as DesiredStateSchema } from '../../shared/schemas/desired-state.js';
import { DeviceEvent as DeviceEventSchema } from '../../shared/schemas/event.js';
import { Presence as PresenceSchema } from '../../shared/schemas/presence.js';
import { Telemetry as TelemetrySchema } from '../../shared/schemas/telemetry.js';
import { Command as CommandSchema } from '../../shared/schemas/command.js';
import { CommandView as CommandViewSchema, SendCommandInput } from '../commands/command-record.js';
import { DEVICE_PHASES, ReportedState as ReportedStateSchema } from '../../shared/schemas/reported-state.js';
import type { AppResolution as ComposedAppResolution } from '../desired-state/compose-desired.js';
import { LabelKey, Labels } from '../desired-state/selector.js';
import { API_ERRORS, type ApiErrorCode } from '../errors.js';
import { Deployment as DeploymentSchema, DeploymentInput } from '../model/deployment.js';
import { Device as DeviceSchema, DeviceOverrides } from '../model/device.js';
import { DecommissionRecord as DecommissionSchema } from '../model/decommission.js';
import { MAX_SECRET_LENGTH, MIN_SECRET_LENGTH } from '../../shared/device-credentials.js';
import { AppName, DeploymentId, ReleaseVersion } from '../model/names.js';
import { Release as ReleaseSchema, ReleaseInput } from '../model/release.js';

/**
 * Every HTTP request and response body, as zod schemas. Requests are
 * validated and responses encoded through these (fastify-type-provider-zod),
 * and /openapi.json is generated from them, so the three cannot drift. The
 * control plane's view types (controller/views.ts) are `z.infer` of the view
 * schemas here.
 *
 * Schemas given an `id` become OpenAPI components (`#/components/schemas/<id>`).
 * `.meta()` registers a clone, so the shared schemas themselves are untouched.
 */
function component<S extends z.ZodType>(schema: S, id: string): S {
  return schema.meta({ id });
}

const Count = z.number().int().min(0);

// ---- entities (responses) ---------------------------------------------------

export const Device = component(DeviceSchema, 'Device');
export const Release = component(ReleaseSchema, 'Release');
export const Deployment = component(DeploymentSchema, 'Deployment');
export const DesiredState = component(DesiredStateSchema, 'DesiredState');
export const ReportedState = component(ReportedStateSchema, 'ReportedState');
export const Presence = component(PresenceSchema, 'Presence');
export const DeviceEvent = component(DeviceEventSchema, 'DeviceEvent');
export const Telemetry = component(TelemetrySchema, 'Telemetry');
export const Command = component(CommandSchema, 'Command');
export const Decommission = component(DecommissionSchema, 'Decommission');
export const CommandView = component(CommandViewSchema.extend({ command: Command }), 'CommandView');

export const AppResolution = z
  .strictObject({
    app: AppName,
    deploymentId: DeploymentId.describe('The deployment that wins for this app on this device (highest priority, then newest)'),
    version: ReleaseVersion,
    source: z.enum(['deployment', 'pin']).describe('pin when a per-device pin overrode the deployment version'),
    shadowed: z.array(DeploymentId).describe('Deployments that target the device for this app but lost to the winner'),
  })
  .describe('Which deployment supplies an app on a device, at which version');

const DeviceSummaryShape = z.strictObject({
  id: DeviceId,
  labels: Labels,
  createdAt: Timestamp,
  online: z.boolean(),
  lastSeen: Timestamp.nullable().describe('Last message of any kind from the device'),
  phase: z.enum([...DEVICE_PHASES, 'unknown']).describe('Phase from the last report; unknown before the first'),
  desiredVersion: StateVersion.nullable().describe('Version of the last desired document published for the device'),
  appliedVersion: StateVersion.nullable().describe('Version the device last reported as applied'),
  inSync: z.boolean().describe('True when the device runs the latest desired version'),
  pending: z.boolean().describe('An accepted change for the device is not on the broker yet (MQTT down, another controller busy); it is published by itself'),
  decommissioning: z.boolean().describe('A decommission has begun and has steps left'),
});
export const DeviceSummary = component(DeviceSummaryShape.describe('One row of the device list'), 'DeviceSummary');

export const DeviceDetail = component(
  DeviceSummaryShape.extend({
    overrides: DeviceOverrides,
    apps: z.array(AppResolution).describe('Per app: which deployment wins, at which version, and which it shadows'),
    problems: z.array(z.string()).describe('Things an operator must fix, e.g. a pinned release that does not exist'),
    desired: DesiredState.nullable(),
    reported: ReportedState.nullable(),
    presence: Presence.nullable(),
    decommission: Decommission.nullable().describe('Its decommission, while one runs'),
  }).describe('A device with its overrides, composed apps, desired and reported state'),
  'DeviceDetail',
);

export const DeploymentDetail = component(
  DeploymentSchema.extend({
    targeted: z.array(DeviceId).describe('Devices the target matches'),
    applied: z.array(DeviceId).describe('Targeted devices whose desired state takes this app from this deployment'),
    shadowed: z.array(DeviceId).describe('Targeted devices where a higher-priority (or newer) deployment of the app wins'),
    pinned: z.array(DeviceId).describe('Of applied, devices pinned to another version of the app'),
    running: z.array(DeviceId).describe('Of applied, devices that report the desired version applied and converged'),
  }).describe('A deployment with the devices it targets and where it actually applies'),
  'DeploymentDetail',
);

export const FleetSummary = component(
  z
    .strictObject({
      devices: Count,
      online: Count,
      offline: Count,
      byPhase: z.record(z.string(), Count).describe('Devices per reported phase (unknown before the first report)'),
      inSync: Count,
      lagging: Count.describe('Devices whose applied desired-state version is behind the stored one (never applied counts)'),
      byRelease: z
        .record(z.string(), z.strictObject({ desired: Count, running: Count }))
        .describe('app@version → devices whose desired state has it, and devices that run it'),
      pending: Count.describe('Devices with an accepted change not on the broker yet'),
      pendingDevices: z.array(DeviceId).describe('The first 100 of them'),
      decommissioning: z.array(DeviceId).describe('Devices whose decommission has steps left (being retried)'),
      deployments: Count,
      releases: Count,
    })
    .describe('Fleet-wide counts'),
  'FleetSummary',
);

const ERROR_CODES = Object.keys(API_ERRORS) as [ApiErrorCode, ...ApiErrorCode[]];

export const ErrorBody = component(
  z
    .strictObject({
      error: z.strictObject({
        code: z.enum(ERROR_CODES).describe('Stable code clients can branch on (docs/api.md lists them)'),
        message: z.string().describe('What was wrong, for a human'),
        details: z.record(z.string(), z.unknown()).optional(),
      }),
    })
    .describe('Every error response'),
  'Error',
);
export type ErrorBody = z.infer<typeof ErrorBody>;

// ---- path parameters and query strings --------------------------------------

export const DeviceParams = z.strictObject({ id: DeviceId });
export const PinParams = z.strictObject({ id: DeviceId, app: AppName });
export const ReleaseParams = z.strictObject({ app: AppName, version: ReleaseVersion });
export const DeploymentParams = z.strictObject({ id: DeploymentId });
export const CommandParams = z.strictObject({ id: DeviceId, commandId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'command ids are 1-64 chars of A-Z a-z 0-9 _ -') });

export const ListDevicesQuery = z.strictObject({
  selector: z
    .string()
    .max(4096)
    .optional()
    .describe('Label selector: key=value, key!=value, key in (a,b), key notin (a,b), key, !key; comma = AND'),
});
export const EventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50).describe('Newest events first, at most this many'),
});
export const ListReleasesQuery = z.strictObject({ app: AppName.optional() });
/** Routes without query parameters refuse any, so a misspelt `?selecter=` is an error, not ignored. */
export const NoQuery = z.strictObject({});

// ---- request bodies ---------------------------------------------------------

const ClientSecret = z
  .string()
  .min(MIN_SECRET_LENGTH)
  .max(MAX_SECRET_LENGTH)
  .describe('A secret the client generated (random, high entropy); repeating the request with it is idempotent');
export const CreateDeviceBody = z.strictObject({ id: DeviceId, labels: Labels.optional(), secret: ClientSecret.optional() });
export const RotateSecretBody = z.strictObject({ secret: ClientSecret.optional() });
export const DecommissionQuery = z.strictObject({
  wipe: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('First publish an empty desired state and wait for the device to report it removed its workloads'),
  wipeTimeoutSeconds: z.coerce.number().int().min(1).max(3600).default(120).describe('How long the wipe waits for the device'),
});

export const LabelPatchBody = z.strictObject({
  set: Labels.optional().describe('Labels to add or change'),
  remove: z.array(LabelKey).optional().describe('Label keys to remove'),
});

const EnvMap = DeviceOverrides.shape.env.unwrap();
const EnvPatch = z.record(EnvMap.keyType, EnvMap.valueType.nullable());
export const OverridePatchBody = z.strictObject({
  env: EnvPatch.optional().describe('Device-wide env overrides; null removes a key'),
  workloadEnv: z
    .record(DeviceOverrides.shape.workloadEnv.unwrap().keyType, EnvPatch)
    .optional()
    .describe('Per device workload (<app>-<workload>); null removes a key'),
});

export const PinBody = z.strictObject({ version: ReleaseVersion });

export const CreateReleaseBody = ReleaseInput;
export const SendCommandBody = SendCommandInput;
export const CreateDeploymentBody = DeploymentInput;

// ---- response bodies --------------------------------------------------------

export const Health = z.strictObject({ ok: z.literal(true) }).describe('The controller process is up');
export const Delivery = component(
  z
    .strictObject({
      state: z.enum(['published', 'pending']).describe('published: every desired document the change affects is on the broker; pending: stored, published by itself later'),
      published: Count.describe('Desired documents published by this request'),
      pending: Count.describe('Devices whose new desired document is not acknowledged by the broker yet'),
      pendingDevices: z.array(DeviceId).describe('The first 100 of them'),
      reason: z.string().nullable().describe('Why it is pending'),
    })
    .describe('Whether the change is on the broker yet (a pending change is durable and needs no retry)'),
  'Delivery',
);
export const CreatedDevice = z
  .strictObject({
    device: Device,
    secret: z.string().describe('The device MQTT password. Shown once: only a hash is stored'),
    created: z.boolean().describe('false when the same request (same id, labels and client secret) was repeated'),
    delivery: Delivery,
  })
  .describe('The enrolled device and its secret');
export const RotatedSecret = z
  .strictObject({
    deviceId: DeviceId,
    secret: z.string().describe('The new MQTT password. Shown once: only a hash is stored'),
    brokersNotified: Count.describe("Outpost broker processes told to end the device's sessions that use an older secret (0 on other brokers: there the old session ends at its next reconnect)"),
  })
  .describe('The new secret');
const PublicSigningKey = z.strictObject({
  keyId: z.string().describe('ed25519:<first 16 hex of SHA-256 of the raw public key>'),
  publicKey: z.string().describe('Raw Ed25519 public key, base64url'),
  pem: z.string().describe('The same key as PEM (SPKI): what a trust file holds'),
});
export const SigningKeys = component(
  z
    .strictObject({
      active: PublicSigningKey,
      next: PublicSigningKey.nullable().describe('The key a rotation under way moves to; null otherwise'),
    })
    .describe('The keys desired documents are signed with (DD-026)'),
  'SigningKeys',
);
export const SigningKeysChanged = z
  .strictObject({ keys: SigningKeys, delivery: Delivery })
  .describe('The keys after the step, and whether every re-signed document is on the broker');

export const DecommissionEnvelope = z
  .strictObject({ decommission: Decommission })
  .describe('The decommission: done, or pending with the step being retried');
export const DeviceList = z.strictObject({ devices: z.array(DeviceSummary) }).describe('Devices, sorted by id');
export const DeviceEnvelope = z.strictObject({ device: Device, delivery: Delivery }).describe('The device after the change');
export const DesiredEnvelope = z
  .strictObject({ desired: DesiredState.nullable().describe('null before anything targets the device') })
  .describe('The last published desired document');
export const ReportedEnvelope = z
  .strictObject({
    reported: ReportedState.nullable(),
    presence: Presence.nullable(),
    online: z.boolean(),
    lastSeen: Timestamp.nullable(),
  })
  .describe('The latest report and presence (null before the first)');
export const EventList = z.strictObject({ events: z.array(DeviceEvent) }).describe('Events, newest first');
export const TelemetryEnvelope = z
  .strictObject({ telemetry: Telemetry.nullable().describe('null before the first sample (or with telemetry off on the device)') })
  .describe('The latest telemetry sample');
export const ReleaseEnvelope = z.strictObject({ release: Release }).describe('The release');
export const ReleaseList = z.strictObject({ releases: z.array(Release) }).describe('Releases, newest first');
export const CreatedDeployment = z
  .strictObject({
    deployment: DeploymentDetail,
    published: Count.describe('Desired documents published because of this change'),
    created: z.boolean().describe('false when a deployment with this id and the same content already existed (a retried request)'),
    delivery: Delivery,
  })
  .describe('The deployment and how many desired documents it changed');
export const DeploymentList = z.strictObject({ deployments: z.array(Deployment) }).describe('Deployments, newest first');
export const Published = z
  .strictObject({
    published: Count.describe('Desired documents published because of this change'),
    alreadyRemoved: z.boolean().describe('true when a retried DELETE found it already removed'),
    delivery: Delivery,
  })
  .describe('How many desired documents changed');
export const NoContent = z.undefined().describe('No content');

// ---- compile-time check against the composer's own type ----------------------

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** Fails to compile when the composer's AppResolution and the schema drift apart. */
export type AppResolutionInSync = Assert<Same<z.infer<typeof AppResolution>, ComposedAppResolution>>;

// ---- documented error responses ---------------------------------------------

const ERROR_STATUS_DESCRIPTIONS = {
  400: 'Bad input: REQUEST_INVALID (the message names every bad field) or SELECTOR_INVALID',
  401: 'UNAUTHORIZED: missing Authorization header, or a wrong or revoked bearer token',
  403: "FORBIDDEN: the token's role is too weak for this route (see x-outpost-access)",
  404: 'DEVICE_NOT_FOUND, RELEASE_NOT_FOUND, DEPLOYMENT_NOT_FOUND, COMMAND_NOT_FOUND, ROLLOUT_NOT_FOUND, TOKEN_NOT_FOUND or REGISTRY_CREDENTIAL_NOT_FOUND',
  409: 'DEVICE_EXISTS, DEVICE_DECOMMISSIONING, RELEASE_CONFLICT, DEPLOYMENT_EXISTS, ROLLOUT_EXISTS, ROLLOUT_PHASE_CONFLICT, TOKEN_EXISTS, DEVICE_CA_NOT_CONFIGURED or REGISTRY_CREDENTIALS_KEY_MISSING',
  500: 'INTERNAL: an unexpected failure (details are in the controller log only)',
  503: 'UNAVAILABLE: the controller cannot reach Redis or the broker; retry later',
} as const;
type ErrorStatus = keyof typeof ERROR_STATUS_DESCRIPTIONS;

/** Error responses of a bearer-protected route: always 401 and 500, plus the given statuses. */
export function errorResponses<const S extends ErrorStatus>(...statuses: S[]): Record<S | 401 | 500, typeof ErrorBody> {
  const out = {} as Record<S | 401 | 500, typeof ErrorBody>;
  for (const s of [...statuses, 401, 500] as (S | 401 | 500)[]) out[s] = ErrorBody.describe(ERROR_STATUS_DESCRIPTIONS[s]);
  return out;
}
