import type { ApiClient } from '../client/api-client.js';
import type { CommandViewBody } from '../client/responses.js';
import { CliError } from '../commands/command-context.js';
import { newLines, splitLog } from './new-lines.js';

export interface FollowOptions {
  deviceId: string;
  workload: string;
  tail: number;
  /** How many of the lines already in the log the first poll prints. */
  firstTail: number;
  intervalMs: number;
  waitSeconds: number;
  /** A poll that cannot reach the device expires soon, so an offline device does not collect a queue of them. */
  ttlSeconds: number;
  out(line: string): void;
  note(line: string): void;
  /** Resolves after ms, or early when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  signal: AbortSignal;
}

function logText(view: CommandViewBody): string {
  const text = view.result?.output?.['text'];
  return typeof text === 'string' ? text : '';
}

/**
 * Repeats the logs command every interval until the signal aborts (Ctrl-C),
 * printing only lines not printed before (newLines). A device that stops
 * answering is a note, not the end: the follow goes on when it is back. A
 * refused command (unknown workload, bad request) ends it with the error.
 */
export async function followLogs(client: ApiClient, o: FollowOptions): Promise<void> {
  let previous: string[] | undefined;
  let silent = false;
  let emptyNoted = false;
  while (!o.signal.aborted) {
    const { view, answered } = await client.sendCommand(o.deviceId, { type: 'logs', workload: o.workload, tail: o.tail, waitSeconds: o.waitSeconds, ttlSeconds: o.ttlSeconds });
    if (answered && view.status === 'done' && view.result?.ok) {
      if (silent) o.note(`(${o.deviceId} answers again)`);
      silent = false;
      const current = splitLog(logText(view));
      if (previous === undefined) {
        for (const line of current.slice(-o.firstTail)) o.out(line);
      } else {
        const { lines, gap } = newLines(previous, current);
        if (gap) o.note('(more lines than one excerpt holds arrived, or the container restarted: some lines may be missing)');
        for (const line of lines) o.out(line);
      }
      if (current.length === 0 && !emptyNoted) o.note(`(no log lines yet from ${o.workload} on ${o.deviceId}; waiting for some, Ctrl-C to stop)`);
      emptyNoted ||= current.length === 0;
      previous = current;
    } else if (view.result && !view.result.ok && view.status !== 'expired') {
      throw new CliError(view.result.code ?? 'COMMAND_FAILED', view.message);
    } else if (!silent) {
      o.note(`(${o.deviceId} is not answering: ${view.message}; still trying every ${o.intervalMs / 1000} s)`);
      silent = true;
    }
    await o.sleep(o.intervalMs, o.signal);
  }
}
