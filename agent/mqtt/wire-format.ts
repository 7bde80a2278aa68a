import type { DeviceEvent, DeviceEventInput } from '../../shared/schemas/event.js';
import type { ReportedState, WorkloadStatus } from '../../shared/schemas/reported-state.js';

/**
 * How reports and events are written on the wire (DD-037, docs/protocol.md
 * §11.1). `compact` (the default): fields at their schema default are left
 * out, container ids, image ids and spec hashes are cut to their first 12
 * hex digits (what `docker ps` shows); `full`: every field, ids whole, as
 * agents before DD-037 sent them. Both are valid protocol v1 documents under
 * the same schemas, so any controller, older or newer, reads either.
 */
export type WireFormat = 'compact' | 'full';

/** The short form of an id or hash: `sha256:` kept, then 12 hex digits. */
export function shortId(id: string | null): string | null {
  if (id === null) return null;
  const m = /^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/.exec(id);
  return m ? `${m[1] ?? ''}${m[2]}` : id;
}

type CompactWorkload = Omit<WorkloadStatus, 'exitCode' | 'restartCount' | 'startedAt'> & Partial<Pick<WorkloadStatus, 'exitCode' | 'restartCount' | 'startedAt'>>;

function compactWorkload(w: WorkloadStatus): CompactWorkload {
  const { exitCode, restartCount, startedAt, ...rest } = w;
  return {
    ...rest,
    imageId: shortId(w.imageId),
    containerId: shortId(w.containerId),
    specHash: shortId(w.specHash),
    ...(exitCode !== null ? { exitCode } : {}),
    ...(restartCount !== 0 ? { restartCount } : {}),
    ...(startedAt !== null ? { startedAt } : {}),
  };
}

export function encodeReport(doc: ReportedState, format: WireFormat): string {
  if (format === 'full') return JSON.stringify(doc);
  const { deferred, rollback, stale, clock, workloads, ...rest } = doc;
  return JSON.stringify({
    ...rest,
    workloads: Object.fromEntries(Object.entries(workloads).map(([name, w]) => [name, compactWorkload(w)])),
    ...(deferred ? { deferred } : {}),
    ...(rollback ? { rollback } : {}),
    ...(stale ? { stale } : {}),
    ...(clock ? { clock } : {}),
  });
}

export function encodeEvent(event: DeviceEvent, format: WireFormat): string {
  if (format === 'full') return JSON.stringify(event);
  const { version, workload, code, data, ...rest } = event;
  const compact: DeviceEventInput = {
    ...rest,
    ...(version !== null ? { version } : {}),
    ...(workload !== null ? { workload } : {}),
    ...(code !== null ? { code } : {}),
    ...(Object.keys(data).length > 0 ? { data } : {}),
  };
  return JSON.stringify(compact);
}
