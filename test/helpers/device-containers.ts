import Docker from 'dockerode';
import { specHash } from '../../agent/reconcile/spec-hash.js';
import { WorkloadSpec, type WorkloadSpecInput } from '../../shared/schemas/workload.js';
import { listContainersByLabel, DEVICE_LABEL } from './docker.js';

export interface DeviceContainer {
  id: string;
  name: string;
  workload: string;
  specHash: string;
  state: string;
  image: string;
  imageId: string;
  env: string[];
  startedAt: string;
}

/** What Docker says the device runs: every container labelled for it, inspected. */
export async function deviceContainers(deviceId: string, docker: Docker = new Docker()): Promise<DeviceContainer[]> {
  const list = await listContainersByLabel(DEVICE_LABEL, deviceId, docker);
  const out: DeviceContainer[] = [];
  for (const c of list) {
    const info = await docker.getContainer(c.Id).inspect();
    out.push({
      id: info.Id,
      name: info.Name.replace(/^\//, ''),
      workload: info.Config.Labels['io.outpost.workload'] ?? '',
      specHash: info.Config.Labels['io.outpost.spec-hash'] ?? '',
      state: info.State.Status,
      image: info.Config.Image,
      imageId: info.Image,
      env: info.Config.Env ?? [],
      startedAt: info.State.StartedAt,
    });
  }
  return out.sort((a, b) => a.workload.localeCompare(b.workload));
}

/** The spec hash the agent will label a container with for this workload input. */
export function expectedHash(input: WorkloadSpecInput): string {
  return specHash(WorkloadSpec.parse(input));
}

/**
 * Container `create` events for the device since an instant (unix seconds,
 * fractions allowed), from Docker's own event log — the ground truth of what was
 * ever applied, whatever the agent reports.
 */
export async function containerCreates(
  deviceId: string,
  sinceSeconds: number,
  docker: Docker = new Docker(),
): Promise<{ id: string; specHash: string; workload: string }[]> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const stream = (await docker.getEvents({
    since: sinceSeconds.toFixed(3) as unknown as number,
    until,
    filters: { type: ['container'], event: ['create'], label: [`${DEVICE_LABEL}=${deviceId}`] },
  })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; Actor: { Attributes: Record<string, string> } })
    .map((e) => ({
      id: e.id,
      specHash: e.Actor.Attributes['io.outpost.spec-hash'] ?? '',
      workload: e.Actor.Attributes['io.outpost.workload'] ?? '',
    }));
}
