/*
 * The parts of the API's answers the dashboard reads. The controller
 * validates every answer against its zod schemas before sending it
 * (controller/http/schemas.ts); these mirror the fields used here only.
 */
export interface FleetChange {
  devices: string[];
  rollouts: string[];
  truncated: boolean;
}

export interface DeviceSummary {
  id: string;
  labels: Record<string, string>;
  online: boolean;
  lastSeen: string | null;
  phase: string;
  desiredVersion: number | null;
  appliedVersion: number | null;
  inSync: boolean;
  pending: boolean;
  decommissioning: boolean;
}

export interface WorkloadStatus {
  state: string;
  reason: string;
  image: string;
  restartCount: number;
  startedAt: string | null;
}

export interface DeviceDetail extends DeviceSummary {
  overrides: { env?: Record<string, string>; workloadEnv?: Record<string, Record<string, string>>; pins?: Record<string, string> };
  apps: { app: string; deploymentId: string; version: string; source: 'deployment' | 'pin'; shadowed: string[] }[];
  problems: string[];
  desired: { version: number; workloads: Record<string, { image: string }>; provenance?: Record<string, { release?: string; deployment?: string }> } | null;
  reported: {
    reportedAt: string;
    phase: string;
    agent: { version: string };
    desired: { appliedVersion: number | null; seenVersion: number | null; applyingVersion: number | null };
    workloads: Record<string, WorkloadStatus>;
    errors: { code: string; message: string }[];
  } | null;
}

export interface DeviceEvent {
  id: string;
  at: string;
  type: string;
  level: 'info' | 'warn' | 'error';
  message: string;
  version: number | null;
  workload: string | null;
}

export interface Telemetry {
  at: string;
  uptimeSeconds: number;
  cpu: { cores: number; loadAverage1m: number; usagePct: number | null };
  memory: { totalBytes: number; availableBytes: number };
  disk: { path: string; totalBytes: number; freeBytes: number };
}

export interface CommandView {
  command: { id: string; type: string; workload?: string };
  status: 'queued' | 'done' | 'expired' | 'rejected';
  message: string;
  result: { ok: boolean; output: Record<string, unknown> | null; error: string | null; code: string | null } | null;
}

export interface FleetSummary {
  devices: number;
  online: number;
  offline: number;
  inSync: number;
  pending: number;
  byPhase: Record<string, number>;
  deployments: number;
  releases: number;
}

export interface Release {
  app: string;
  version: string;
  createdAt: string;
  workloads: Record<string, { image: string }>;
}

export interface Deployment {
  id: string;
  app: string;
  version: string;
  priority: number;
  target: { kind: string; selector?: string; devices?: string[] };
  createdAt: string;
}

export interface DeploymentDetail extends Deployment {
  targeted: string[];
  applied: string[];
  shadowed: string[];
  pinned: string[];
  running: string[];
}

export interface RolloutCounts {
  [k: string]: number;
}

export interface RolloutWave {
  index: number;
  size: number;
  canary: boolean;
  startedAt: string | null;
  outcome: 'passed' | 'failed' | null;
  reason: string | null;
  counts: RolloutCounts;
  devices?: string[];
}

export interface Rollout {
  id: string;
  app: string;
  toVersion: string;
  phase: string;
  currentWave: number;
  reason: string | null;
  totals: RolloutCounts;
  waves: RolloutWave[];
  updatedAt: string;
  devices?: { deviceId: string; wave: number; status: string; reason: string | null }[];
}
