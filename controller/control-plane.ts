import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { DeviceEvent } from '../shared/schemas/event.js';
import type { Telemetry } from '../shared/schemas/telemetry.js';
import type { AuditLog } from './access/audit-log.js';
import type { TokenStore } from './access/token-store.js';
import type { CommandView, SendCommandInput } from './commands/command-record.js';
import type { ChangeFeed } from './dashboard/change-feed.js';
import type { RecomputeResult } from './desired-state/desired-publisher.js';
import { ControllerError } from './errors.js';
import type { DeviceStatus } from './ingest/status-store.js';
import type { Deployment, DeploymentInput } from './model/deployment.js';
import type { DecommissionRecord } from './model/decommission.js';
import type { Release, ReleaseInput } from './model/release.js';
import type { CertificateOperations, IssueCertificateInput, IssuedDeviceCertificateView } from './operations/certificate-operations.js';
import type { CommandOperations } from './operations/command-operations.js';
import type { Decommissioner, DecommissionOptions } from './operations/decommission.js';
import type { Delivery } from './operations/delivery.js';
import type { DeploymentOperations } from './operations/deployment-operations.js';
import type { DeviceChange, DeviceOperations, LabelPatch, OverridePatch } from './operations/device-operations.js';
import type { DeploymentViews } from './read-models/deployment-views.js';
import type { SigningOperations } from './operations/signing-operations.js';
import type { RegistryCredentialOperations } from './operations/registry-credential-operations.js';
import type { SigningKeysView } from './signing/signing-keys.js';
import type { DeviceViews } from './read-models/device-views.js';
import type { RolloutService } from './rollout/rollout-service.js';
import type { DeploymentDetail, DeviceDetail, DeviceSummary, FleetSummary } from './views.js';

export type { LabelPatch, OverridePatch } from './operations/device-operations.js';

export interface ControlPlaneParts {
  devices: DeviceOperations;
  decommission: Decommissioner;
  deployments: DeploymentOperations;
  commands: CommandOperations;
  deviceViews: DeviceViews;
  deploymentViews: DeploymentViews;
  fleetSummary: () => Promise<FleetSummary>;
  signing: SigningOperations;
  /** Device certificates from the control plane's CA (DD-027). */
  certificates: CertificateOperations;
  /** Rollouts (controller/rollout); absent in a control plane built without them. */
  rollouts?: RolloutService;
  /** API tokens with roles (DD-025). */
  tokens: TokenStore;
  /** The audit log of mutating API calls (DD-025). */
  audit: AuditLog;
  /** Private-registry credentials injected into desired documents (DD-041); absent in a control plane built without them. */
  registryCredentials?: RegistryCredentialOperations;
  /** Change notifications for the dashboard's live stream (DD-042); absent: the stream only keeps alive. */
  changes?: ChangeFeed;
}

/**
 * The operations operators perform, one entry point for the API and the CLI.
 * It only routes: device changes (operations/device-operations.ts),
 * decommission (operations/decommission.ts), releases and deployments
 * (operations/deployment-operations.ts), commands, and the read models
 * (read-models/). Every mutation answers with its `delivery`: published, or
 * pending with why (DD-021).
 */
export class ControlPlane {
  constructor(private readonly parts: ControlPlaneParts) {}

  /** Waves, thresholds, windows and operations on rollouts (see controller/rollout/rollout-service.ts). */
  get rollouts(): RolloutService {
    if (!this.parts.rollouts) throw new ControllerError('INTERNAL', 'this control plane was built without rollouts');
    return this.parts.rollouts;
  }

  /** API tokens: create, list, revoke, and authenticate a bearer value (controller/access/token-store.ts). */
  get tokens(): TokenStore {
    return this.parts.tokens;
  }

  /** Private-registry credentials (operations/registry-credential-operations.ts, DD-041). */
  get registryCredentials(): RegistryCredentialOperations {
    if (!this.parts.registryCredentials) throw new ControllerError('INTERNAL', 'this control plane was built without registry credentials');
    return this.parts.registryCredentials;
  }

  /** Who changed what through the API, bounded (controller/access/audit-log.ts). */
  get audit(): AuditLog {
    return this.parts.audit;
  }

  /** What changed lately, coalesced (controller/dashboard/change-feed.ts); null when built without it. */
  get changes(): ChangeFeed | null {
    return this.parts.changes ?? null;
  }

  // ---- devices ------------------------------------------------------------

  addDevice(input: { id: string; labels?: Record<string, string>; secret?: string }): Promise<DeviceChange & { secret: string; created: boolean }> {
    return this.parts.devices.add(input);
  }

  updateLabels(id: string, patch: LabelPatch): Promise<DeviceChange> {
    return this.parts.devices.updateLabels(id, patch);
  }

  setOverrides(id: string, patch: OverridePatch): Promise<DeviceChange> {
    return this.parts.devices.setOverrides(id, patch);
  }

  setPin(id: string, app: string, version: string | null): Promise<DeviceChange> {
    return this.parts.devices.setPin(id, app, version);
  }

  rotateSecret(id: string, input: { secret?: string } = {}): Promise<{ deviceId: string; secret: string; brokersNotified: number }> {
    return this.parts.devices.rotateSecret(id, input);
  }

  /** A device certificate signed by the control plane's CA; a generated key is in this answer only (DD-027). */
  issueDeviceCertificate(id: string, input: IssueCertificateInput = {}): Promise<IssuedDeviceCertificateView> {
    return this.parts.certificates.issue(id, input);
  }

  /** Decommission (DD-022); `done`, or `pending` with the step that is being retried. */
  removeDevice(id: string, opts: DecommissionOptions = {}): Promise<DecommissionRecord> {
    return this.parts.decommission.request(id, opts);
  }

  pendingDecommissions(): Promise<DecommissionRecord[]> {
    return this.parts.decommission.pending();
  }

  listDevices(opts: { selector?: string } = {}): Promise<DeviceSummary[]> {
    return this.parts.deviceViews.list(opts);
  }

  getDevice(id: string): Promise<DeviceDetail> {
    return this.parts.deviceViews.get(id);
  }

  statusOf(id: string): Promise<DeviceStatus> {
    return this.parts.deviceViews.status(id);
  }

  desiredOf(id: string): Promise<DesiredState | null> {
    return this.parts.deviceViews.desired(id);
  }

  eventsOf(id: string, limit = 50): Promise<DeviceEvent[]> {
    return this.parts.deviceViews.events(id, limit);
  }

  telemetryOf(id: string): Promise<Telemetry | null> {
    return this.parts.deviceViews.telemetry(id);
  }

  // ---- commands -------------------------------------------------------------

  sendCommand(id: string, input: SendCommandInput): Promise<{ view: CommandView; answered: boolean }> {
    return this.parts.commands.send(id, input);
  }

  commandOf(id: string, commandId: string): Promise<CommandView> {
    return this.parts.commands.get(id, commandId);
  }

  // ---- releases and deployments ---------------------------------------------

  createRelease(input: ReleaseInput): Promise<{ release: Release; created: boolean }> {
    return this.parts.deployments.createRelease(input);
  }

  listReleases(app?: string): Promise<Release[]> {
    return this.parts.deploymentViews.listReleases(app);
  }

  getRelease(app: string, version: string): Promise<Release> {
    return this.parts.deploymentViews.getRelease(app, version);
  }

  async createDeployment(input: DeploymentInput): Promise<{ deployment: DeploymentDetail; created: boolean; delivery: Delivery; result: RecomputeResult }> {
    const { deployment, created, targeted, delivery, result } = await this.parts.deployments.create(input);
    return { deployment: await this.parts.deploymentViews.detail(deployment, targeted), created, delivery, result };
  }

  listDeployments(): Promise<Deployment[]> {
    return this.parts.deploymentViews.list();
  }

  getDeployment(id: string): Promise<DeploymentDetail> {
    return this.parts.deploymentViews.get(id);
  }

  removeDeployment(id: string): Promise<{ deployment: Deployment; alreadyRemoved: boolean; delivery: Delivery }> {
    return this.parts.deployments.remove(id);
  }

  // ---- fleet ----------------------------------------------------------------

  fleetSummary(): Promise<FleetSummary> {
    return this.parts.fleetSummary();
  }

  // ---- signing keys (DD-026) ------------------------------------------------

  signingKeys(): Promise<SigningKeysView> {
    return this.parts.signing.view();
  }

  rotateSigningKey(): Promise<{ keys: SigningKeysView; delivery: Delivery }> {
    return this.parts.signing.rotate();
  }

  finishSigningKeyRotation(): Promise<{ keys: SigningKeysView; delivery: Delivery }> {
    return this.parts.signing.finish();
  }
}
