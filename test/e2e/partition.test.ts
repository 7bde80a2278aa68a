import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../bench/chaos/checker.js';
import { ensureOutpostImage } from '../helpers/agent-image.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease } from '../helpers/fleet-rig.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';
import { deviceWorkloads, startContainerFleetRig, type ContainerFleetRig } from '../helpers/tc-fleet-rig.js';
import { waitFor } from '../helpers/wait-for.js';

/** The agents' keepalive in the test rig (agent-process.ts: `--keepalive 10`). */
const KEEPALIVE_S = 10;

/**
 * Issue 13, F4: a device partitioned from the broker for longer than its
 * keepalive, then healed. The agent runs in a container on the test's own
 * network (testcontainers, DD-048); the partition drops its packets to and
 * from the broker silently inside its network namespace (DD-049), so neither
 * end is told. A deployment is made meanwhile. The workloads run on untouched;
 * the broker gives the device up (its will: offline) and the agent its
 * connection; after the heal the agent reconnects by itself, gets the latest
 * desired document, converges, and shows online. Runs on both brokers: the
 * partition is inside the device's container, whichever broker is behind it.
 */
describe('F4: a device partitioned longer than its keepalive, healed', () => {
  let rig: ContainerFleetRig | undefined;
  dumpOnFailure(() => rig?.fleet.outputs() ?? {});

  // The agent's image, built on first use (about a minute on an idle machine) outside the test's own time.
  beforeAll(async () => {
    await ensureOutpostImage();
  }, 900_000);

  afterAll(async () => {
    await rig?.close();
  });

  it('keeps its workloads running, is shown offline, and converges on the latest version once healed', async () => {
    const role = `partition-${Math.random().toString(36).slice(2, 7)}`;
    rig = await startContainerFleetRig({ prefix: 'partition', count: 1, labels: () => ({ role }) });
    const { fleet } = rig;
    const id = fleet.ids[0]!;
    await deployFirstRelease(fleet, { app: 'pt', workload: 'web', role });
    const before = await deviceWorkloads(id);
    expect(before.map((c) => [c.workload, c.image, c.state])).toEqual([['pt-web', TEST_IMAGE, 'running']]);
    const agent = fleet.agent(id);
    const disconnects = (): number => agent.output().split('"msg":"disconnected"').length - 1;
    const disconnectsBefore = disconnects();
    const connectionsBefore = rig.net.connections;
    const since = Date.now() / 1000;

    const link = rig.link(id);
    await link.cut();
    const cutAt = Date.now();
    await fleet.client.createDeployment({ app: 'pt', version: '2', target: { kind: 'selector', selector: `role=${role}` } });
    const latest = (await fleet.desiredVersion(id)) ?? 0;
    expect(latest).toBeGreaterThan(1);

    // Nothing tells either end: the broker gives the device up after 1.5 keepalives, the agent after its PINGREQ goes unanswered.
    await waitFor(async () => (await fleet.client.getDevice(id)).online === false, {
      timeoutMs: 3 * KEEPALIVE_S * 1000,
      description: 'the controller shows the partitioned device offline',
    });
    await waitFor(() => disconnects() > disconnectsBefore, { timeoutMs: 3 * KEEPALIVE_S * 1000, intervalMs: 200, description: 'the agent noticed the dead link' });
    // Longer than the keepalive, whatever the two detections took.
    await waitFor(() => Date.now() - cutAt > 2 * KEEPALIVE_S * 1000, { timeoutMs: 3 * KEEPALIVE_S * 1000, intervalMs: 500, description: 'two keepalives into the partition' });

    // Partitioned: the workload runs on, the same container, and v2 has not reached the device.
    const during = await deviceWorkloads(id);
    expect(during.map((c) => [c.id, c.state])).toEqual([[before[0]!.id, 'running']]);
    expect(fleet.received(id)).not.toContain(latest);
    expect(rig.net.connections).toBe(connectionsBefore);

    await link.heal();
    await waitFor(() => rig!.net.connections > connectionsBefore, { timeoutMs: 30_000, description: 'the agent reconnected by itself' });
    await fleet.converged(id, latest, 60_000);
    await waitFor(async () => (await fleet.client.getDevice(id)).online === true, { timeoutMs: 30_000, description: 'online again' });
    const presence = fleet.watches[id]!.presence;
    expect(presence.reduce((a, b) => (b.epoch > a.epoch ? b : a)).status).toBe('online');

    const after = await deviceWorkloads(id);
    expect(after.map((c) => [c.workload, c.image, c.state])).toEqual([['pt-web', TEST_IMAGE_2, 'running']]);
    const verdict = checkHistory(id, await fleet.history(id, latest, since));
    expect(verdict).toEqual({ lost: 0, duplicated: 0, unexpected: 0, problems: [] });
  }, 150_000);
});
