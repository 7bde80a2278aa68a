import Docker from 'dockerode';

export { waitFor, type WaitForOptions } from './wait-for.js';

/** Label agents put on every container they create. */
export const DEVICE_LABEL = 'io.outpost.device';

/** All containers (running or not) carrying `label`, or `label=value` when `value` is given. */
export async function listContainersByLabel(
  label: string,
  value?: string,
  docker: Docker = new Docker(),
): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [value === undefined ? label : `${label}=${value}`] },
  });
}

/**
 * Force-removes (with anonymous volumes) every container matching the label.
 * Returns the ids removed. Containers that vanish meanwhile are not an error.
 */
export async function removeContainersByLabel(
  label: string,
  value?: string,
  docker: Docker = new Docker(),
): Promise<string[]> {
  const containers = await listContainersByLabel(label, value, docker);
  const removed: string[] = [];
  for (const { Id } of containers) {
    try {
      await docker.getContainer(Id).remove({ force: true, v: true });
      removed.push(Id);
    } catch (err: unknown) {
      const status = (err as { statusCode?: number }).statusCode;
      // 404: already gone; 409: removal already in progress.
      if (status !== 404 && status !== 409) throw err;
    }
  }
  return removed;
}

/** Removes the containers an agent created for `deviceId` (see DEVICE_LABEL). */
export function removeDeviceContainers(deviceId: string, docker: Docker = new Docker()): Promise<string[]> {
  return removeContainersByLabel(DEVICE_LABEL, deviceId, docker);
}
