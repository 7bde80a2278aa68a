import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys } from '../../controller/registry/keys.js';
import { MAX_RESENDS } from '../../controller/desired-state/receipt-plan.js';
import { Topics } from '../../shared/topics.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { fakeEvent, fakePresence, fakeReport } from '../helpers/fake-reports.js';
import { captureLogs } from '../helpers/log-capture.js';
import { connectTestController, type TestController } from '../helpers/test-controller.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * DD-062: the controller's delivery check. Real Redis, Outpost's broker and
 * controller; the devices are played by the test (presence, reports and
 * events written into the status store, the desired topic read by an
 * observer), so that a device can "miss" a document on purpose.
 */
const topics = new Topics();
const keys = new Keys('outpost:');

describe('DD-062: a desired document an online device does not show is sent again', () => {
  let rig: ControlPlaneRig;
  let observer: TestController;
  const { logger, logs } = captureLogs();
  /** Versions of the desired documents the observer received, per device. */
  const delivered = new Map<string, number[]>();

  beforeAll(async () => {
    rig = await startControlPlane({ controller: { receiptGraceSeconds: 1, logLevel: 'debug' }, logger });
    observer = await connectTestController(rig.brokerUrl, rig.serviceAuth);
    observer.client.on('message', (topic, payload) => {
      const parsed = topics.parseDevice(topic);
      if (parsed?.channel !== 'desired' || payload.length === 0) return;
      delivered.set(parsed.deviceId, [...(delivered.get(parsed.deviceId) ?? []), (JSON.parse(payload.toString()) as { version: number }).version]);
    });
    await observer.client.subscribeAsync(topics.allDevices('desired'), { qos: 1 });
  });
  afterAll(async () => {
    await observer?.close();
    await rig?.close();
  });

  const status = () => rig.controller.status;
  const armed = async (id: string): Promise<boolean> => (await rig.controller.redis.zscore(keys.receipts(), id)) !== null;

  /**
   * A device with its own app, online since now; deploys version 1 of the app to it. `shows`: the device's
   * report or event naming version 1 is stored as soon as the deploy returns, well inside the 1 s grace.
   * (Not before it: a report lifts the device's version counter, and the deploy would then be version 2.)
   */
  async function deployTo(id: string, opts: { online: boolean; shows?: 'report' | 'event' }): Promise<void> {
    const cp = rig.controller.controlPlane;
    await cp.addDevice({ id, labels: { test: id } });
    if (opts.online) await fakePresence(status(), id, true, Date.now());
    await cp.createRelease({ app: id, version: '1', workloads: { w: { image: 'busybox:1' } } });
    await cp.createDeployment({ app: id, version: '1', target: { kind: 'selector', selector: `test=${id}` } });
    if (opts.shows === 'report') await fakeReport(status(), id, { seen: 1, applied: null, phase: 'applying' });
    if (opts.shows === 'event') await fakeEvent(status(), id, { type: 'desired.received', version: 1 });
  }

  it(`an online device that never shows it gets the same version again, at most ${MAX_RESENDS} times, then a warning`, async () => {
    const id = 'rcpt-silent';
    await deployTo(id, { online: true });
    await waitFor(() => logs.some((l) => l.deviceId === id && l.msg.startsWith('device online but shows no sign')), {
      description: 'the warning after the last re-send',
      timeoutMs: 30_000,
    });
    // Checked after the last re-send too: nothing armed any more, so nothing more is sent.
    expect(await armed(id)).toBe(false);
    await waitFor(() => delivered.get(id)?.length === 1 + MAX_RESENDS, { description: 'every re-send delivered' });
    expect(delivered.get(id)).toEqual(Array(1 + MAX_RESENDS).fill(1));
    expect(logs.find((l) => l.deviceId === id && l.msg.startsWith('device online but shows no sign'))).toMatchObject({ level: 40, version: 1, resends: MAX_RESENDS });
  });

  it('a re-send stops once the device reports the version', async () => {
    const id = 'rcpt-late';
    await deployTo(id, { online: true });
    await waitFor(() => (delivered.get(id)?.length ?? 0) >= 2, { description: 'the first re-send', timeoutMs: 15_000 });
    await fakeReport(status(), id, { seen: 1, applied: 1, phase: 'converged' });
    // The re-send is armed once acknowledged, then checked: the report settles it.
    await waitFor(async () => !(await armed(id)) && (await rig.controller.redis.hget(keys.desired(id), 'published')) === '1', {
      description: 'the re-sent copy acknowledged and checked',
      timeoutMs: 15_000,
    });
    const sent = delivered.get(id)?.length ?? 0;
    // Sentinel: a document published after the check reaches the observer after anything the check could have caused.
    await deployTo('rcpt-sentinel-1', { online: false });
    await waitFor(() => delivered.has('rcpt-sentinel-1'), { description: 'the sentinel document' });
    expect(delivered.get(id)).toEqual(Array(sent).fill(1));
    expect(sent).toBeLessThanOrEqual(1 + MAX_RESENDS);
  });

  it('nothing is sent again to an offline device, one that connected after the publish, or one whose report or event shows it', async () => {
    const offline = 'rcpt-offline';
    const later = 'rcpt-later';
    const reported = 'rcpt-reported';
    const evented = 'rcpt-evented';
    await deployTo(offline, { online: false });
    await deployTo(later, { online: false });
    await deployTo(reported, { online: true, shows: 'report' });
    await deployTo(evented, { online: true, shows: 'event' });
    // Connected after the publish: checked before this line (then offline) or after it (then connected-after), never re-sent.
    await fakePresence(status(), later, true, Date.now());
    const verdict = (id: string): string | undefined => {
      const line = logs.find((l) => l.msg === 'delivery check' && (l.devices as Record<string, string> | undefined)?.[id] !== undefined);
      return (line?.devices as Record<string, string> | undefined)?.[id];
    };
    for (const id of [offline, later, reported, evented]) await waitFor(() => verdict(id) !== undefined, { description: `${id} checked`, timeoutMs: 15_000 });
    expect(verdict(offline)).toBe('offline');
    expect(['offline', 'connected-after']).toContain(verdict(later));
    expect(verdict(reported)).toBe('received');
    expect(verdict(evented)).toBe('received');
    await deployTo('rcpt-sentinel-2', { online: false });
    await waitFor(() => delivered.has('rcpt-sentinel-2'), { description: 'the sentinel document' });
    for (const id of [offline, later, reported, evented]) expect(delivered.get(id), id).toEqual([1]);
  });
});
