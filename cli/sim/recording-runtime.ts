import { SPEC_HASH_LABEL, WORKLOAD_LABEL, type ContainerCreateRequest } from '../../agent/runtime/runtime.js';
import { SimulatedRuntime } from '../../agent/runtime/simulated-runtime.js';
import type { SimContainerCreate } from './sim-messages.js';

/**
 * A SimulatedRuntime that keeps a log of the containers it actually created
 * (a create that finds its deterministic name taken creates nothing), so a
 * chaos run can tell a repeated apply from a legitimate change (issue 13).
 */
export class RecordingRuntime extends SimulatedRuntime {
  readonly creates: SimContainerCreate[] = [];

  override async createContainer(request: ContainerCreateRequest): Promise<string> {
    const existed = (await this.inspectContainer(request.name)) !== null;
    const id = await super.createContainer(request);
    if (!existed) {
      const labels = (request.options.Labels ?? {}) as Record<string, string>;
      this.creates.push({ workload: labels[WORKLOAD_LABEL] ?? request.name, specHash: labels[SPEC_HASH_LABEL] ?? '' });
    }
    return id;
  }
}
