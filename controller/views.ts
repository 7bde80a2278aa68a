import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { Presence } from '../shared/schemas/presence.js';
import type { DevicePhase, ReportedState } from '../shared/schemas/reported-state.js';
import type { AppResolution } from './desired-state/compose-desired.js';
import type { Deployment } from './model/deployment.js';
import type { DeviceOverrides } from './model/device.js';

/** One row of `device ls`. */
export interface DeviceSummary {
  id: string;
  labels: Record<string, string>;
  createdAt: string;
  online: boolean;
  lastSeen: string | null;
  phase: DevicePhase | 'unknown';
  /** Version of the last desired document published for the device. */
  desiredVersion: number | null;
  /** Version the device last reported as applied. */
  appliedVersion: number | null;
  /** True when the device runs the latest desired version. */
  inSync: boolean;
}

export interface DeviceDetail extends DeviceSummary {
  overrides: DeviceOverrides;
  /** Per app: which deployment wins, at which version, and which deployments it shadows. */
  apps: AppResolution[];
  problems: string[];
  desired: DesiredState | null;
  reported: ReportedState | null;
  presence: Presence | null;
}

export interface DeploymentDetail extends Deployment {
  /** Devices the target matches. */
  targeted: string[];
  /** Targeted devices whose desired state takes this app from this deployment. */
  applied: string[];
  /** Targeted devices where a higher-priority (or newer) deployment of the same app wins. */
  shadowed: string[];
  /** Of `applied`, devices that are pinned to another version of the app. */
  pinned: string[];
  /** Of `applied`, devices that report the desired version applied and every workload running. */
  running: string[];
}

export interface FleetSummary {
  devices: number;
  online: number;
  offline: number;
  byPhase: Record<string, number>;
  inSync: number;
  /** app@version → devices whose desired state has it, and devices that run it. */
  byRelease: Record<string, { desired: number; running: number }>;
  deployments: number;
  releases: number;
}
