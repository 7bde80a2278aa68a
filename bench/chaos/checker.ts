/**
 * The chaos suite's history checker (issue 13), Jepsen style: given what was
 * published to each device and what each device did, count what went wrong.
 * Pure: the tests and `bench/chaos` gather the histories (from the desired
 * topic, the devices' reports and Docker's own event log) and hand them here.
 *
 * - lost: a device that does not end at the latest version published to it.
 * - duplicated: a container created twice for the same workload spec (an
 *   apply replayed). Histories must give every published version a spec of
 *   its own per workload (the tests put the version in an env var), so a
 *   second create of one spec is a repeat, not a legitimate change.
 * - unexpected: a device reporting a version never published to it, or an
 *   older version after a newer one.
 */

export interface ContainerCreate {
  readonly workload: string;
  readonly specHash: string;
}

export interface DeviceHistory {
  /** Desired versions published to the device, in any order; duplicates allowed (retained re-sends). */
  readonly published: readonly number[];
  /** The applied version of each report, in the order the device sent them (null: nothing applied yet). */
  readonly applied: ReadonlyArray<number | null>;
  /** Container creates for the device during the run, from Docker's event log. */
  readonly creates?: readonly ContainerCreate[];
}

export interface CheckResult {
  readonly devices: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly unexpected: number;
  /** One line per finding, naming the device. */
  readonly problems: readonly string[];
}

export function checkHistory(deviceId: string, history: DeviceHistory): Omit<CheckResult, 'devices'> {
  const problems: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let unexpected = 0;
  const published = new Set(history.published);
  const latest = history.published.length ? Math.max(...history.published) : null;

  let highest: number | null = null;
  for (const version of history.applied) {
    if (version === null) continue;
    if (!published.has(version)) {
      unexpected++;
      problems.push(`${deviceId}: reported v${version}, which was never published to it`);
    }
    if (highest !== null && version < highest) {
      unexpected++;
      problems.push(`${deviceId}: reported v${version} after v${highest}`);
    }
    highest = highest === null ? version : Math.max(highest, version);
  }

  const final = [...history.applied].reverse().find((v) => v !== null) ?? null;
  if (latest !== null && final !== latest) {
    lost++;
    problems.push(`${deviceId}: ends at ${final === null ? 'nothing applied' : `v${final}`}, latest published v${latest}`);
  }

  const creates = new Map<string, number>();
  for (const c of history.creates ?? []) {
    const key = `${c.workload}@${c.specHash}`;
    creates.set(key, (creates.get(key) ?? 0) + 1);
  }
  for (const [key, count] of creates) {
    if (count < 2) continue;
    duplicated += count - 1;
    problems.push(`${deviceId}: container for ${key} created ${count} times`);
  }
  return { lost, duplicated, unexpected, problems };
}

export function checkHistories(histories: Readonly<Record<string, DeviceHistory>>): CheckResult {
  const result = { devices: 0, lost: 0, duplicated: 0, unexpected: 0, problems: [] as string[] };
  for (const [deviceId, history] of Object.entries(histories).sort(([a], [b]) => a.localeCompare(b))) {
    const r = checkHistory(deviceId, history);
    result.devices++;
    result.lost += r.lost;
    result.duplicated += r.duplicated;
    result.unexpected += r.unexpected;
    result.problems.push(...r.problems);
  }
  return result;
}
