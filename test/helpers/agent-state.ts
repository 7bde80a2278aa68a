import type { Logger } from 'pino';
import { AgentState } from '../../agent/agent-state.js';
import { StateStore } from '../../agent/state/state-store.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

/** A real agent state (meta, desired and applied documents) on a fresh temporary directory, loaded. */
export async function tempAgentState(deviceId: string, logger: Logger): Promise<{ state: AgentState; dir: TempDir }> {
  const dir = await makeTempDir(`agent-state-${deviceId}`);
  const state = new AgentState(new StateStore(dir.path, deviceId, logger), logger, () => Date.now());
  await state.load();
  return { state, dir };
}
