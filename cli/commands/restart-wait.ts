/** The API holds a command request open at most this long (controller/commands/command-record.ts). */
export const API_WAIT_MAX_SECONDS = 60;
/** What a restart takes beyond the stop grace period: start, inspect, the answer's way back. */
const RESTART_MARGIN_SECONDS = 15;
const DEFAULT_STOP_TIMEOUT_SECONDS = 10;

/**
 * How long `outpost restart` waits for an online device's answer when --wait
 * is not given: the agent answers after the container stopped and started
 * again, and a PID 1 that ignores SIGTERM is killed only after the workload's
 * stopTimeoutSeconds. Read from the device's desired document (the field
 * passes through the API's loose schema); 10 s, the protocol default, when absent.
 */
export function restartWaitSeconds(desired: { workloads: Record<string, Record<string, unknown>> } | null, workload: string): number {
  const stop = desired?.workloads[workload]?.['stopTimeoutSeconds'];
  return (typeof stop === 'number' && Number.isFinite(stop) && stop >= 0 ? stop : DEFAULT_STOP_TIMEOUT_SECONDS) + RESTART_MARGIN_SECONDS;
}
