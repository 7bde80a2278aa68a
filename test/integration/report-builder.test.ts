import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentState } from '../../agent/agent-state.js';
import { buildReport } from '../../agent/report-builder.js';
import { DockerRuntime } from '../../agent/runtime/docker-runtime.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { TEST_IMAGE } from '../helpers/images.js';
import { captureLogs } from '../helpers/log-capture.js';
import { tempAgentState } from '../helpers/agent-state.js';
import type { TempDir } from '../helpers/temp-dir.js';
import { desiredDoc } from '../helpers/test-controller.js';

const DEVICE = 'report-instant';
const doc = (version: number): DesiredState => DesiredState.parse(desiredDoc(DEVICE, version, { a: { image: TEST_IMAGE } }));

/**
 * A report describes one instant of the agent. It asks Docker what runs, which takes a while; a newer
 * document accepted meanwhile must not turn up as `seenVersion` in a report whose target is the older
 * one (seen 2, applied 1, converged): that report would go out on its own, news of nothing (CI, stop 18).
 */
describe('the reported state', () => {
  let dir: TempDir;
  let state: AgentState;
  const { logger } = captureLogs();

  beforeAll(async () => {
    ({ state, dir } = await tempAgentState(DEVICE, logger));
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('says what the agent had seen when it was asked for, whatever arrives while Docker answers', async () => {
    const v1 = doc(1);
    state.highest = v1;
    state.meta = { ...state.meta, appliedVersion: 1 };
    const building = buildReport({
      deviceId: DEVICE,
      runtime: new DockerRuntime(),
      state,
      target: v1,
      agent: { version: 'test', bootId: 'b', startedAt: new Date().toISOString() },
      clock: null,
    });
    // The builder is waiting for Docker now: version 2 is accepted (the inbox sets `highest` before it persists).
    state.highest = doc(2);
    const report = await building;
    expect(report.desired).toEqual({ seenVersion: 1, appliedVersion: 1, applyingVersion: null });
    expect(report.errors).toEqual([]);
  });
});
