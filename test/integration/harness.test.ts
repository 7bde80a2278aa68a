import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import mqtt from 'mqtt';
import { describe, expect, it, onTestFinished } from 'vitest';
import { DEVICE_LABEL, listContainersByLabel, removeContainersByLabel, waitFor } from '../helpers/docker.js';
import { TEST_IMAGE, TEST_IMAGE_2, VARIANT_LABEL, pullImage, pushToRegistry } from '../helpers/images.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { spawnProcess } from '../helpers/process.js';
import { startRedis } from '../helpers/redis.js';
import { startRegistry } from '../helpers/registry.js';

const docker = new Docker();

describe('process helper', () => {
  it('waits for output lines and stops with SIGTERM, escalating to SIGKILL', async () => {
    const polite = spawnProcess('sh', { args: ['-c', 'echo ready; exec sleep 30'] });
    onTestFinished(() => polite.stop().then(() => undefined));
    expect(await polite.waitForLine(/ready/, 5_000)).toBe('out|ready');
    expect(await polite.stop()).toMatchObject({ signal: 'SIGTERM' });
    expect(await polite.stop()).toMatchObject({ signal: 'SIGTERM' });

    const stubborn = spawnProcess('sh', { args: ['-c', "trap '' TERM; echo up; while :; do sleep 1; done"] });
    onTestFinished(() => stubborn.stop().then(() => undefined));
    await stubborn.waitForLine(/up/, 5_000);
    expect(await stubborn.stop(300)).toMatchObject({ signal: 'SIGKILL' });
  });

  it('reports a process that exits before printing the expected line', async () => {
    const proc = spawnProcess('sh', { args: ['-c', 'echo boom >&2; exit 3'] });
    onTestFinished(() => proc.stop().then(() => undefined));
    await expect(proc.waitForLine(/never/, 5_000)).rejects.toThrow(/code=3[\s\S]*err\|boom/);
  });
});

describe('redis helper', () => {
  it('serves SET/GET and keeps AOF data across kill -9 and restart on the same port', async () => {
    const redis = await startRedis({ appendonly: true, appendfsync: 'always' });
    onTestFinished(() => redis.stop());

    const before = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    onTestFinished(() => before.disconnect());
    await before.set('harness:key', 'value-1');
    expect(await before.get('harness:key')).toBe('value-1');
    before.disconnect();

    const oldPid = redis.pid;
    await redis.kill9();
    await redis.restart();
    expect(redis.pid).not.toBe(oldPid);

    const after = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    onTestFinished(() => after.disconnect());
    expect(await after.get('harness:key')).toBe('value-1');
  });
});

describe('mosquitto helper', () => {
  it('keeps a retained message across kill -9 and restart', async () => {
    const broker = await startMosquitto();
    onTestFinished(() => broker.stop());
    const topic = `outpost/harness/${randomUUID()}`;
    const payload = `retained-${randomUUID()}`;

    const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    onTestFinished(() => publisher.endAsync(true));
    await publisher.publishAsync(topic, payload, { qos: 1, retain: true });
    await publisher.endAsync();

    // autosave_on_changes writes the database on the loop iteration after the change.
    await waitFor(async () => (await readFile(broker.persistenceFile)).includes(payload), {
      timeoutMs: 5_000,
      description: 'retained message in the mosquitto persistence file',
    });
    await broker.kill9();
    await broker.restart();

    const subscriber = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    onTestFinished(() => subscriber.endAsync(true));
    const received = new Promise<{ payload: string; retain: boolean }>((resolve) => {
      subscriber.on('message', (t, message, packet) => {
        if (t === topic) resolve({ payload: message.toString(), retain: packet.retain });
      });
    });
    await subscriber.subscribeAsync(topic, { qos: 1 });
    expect(await received).toEqual({ payload, retain: true });
  });
});

describe('registry helper', () => {
  it('accepts a push and serves a pull by digest with the right credentials only', async () => {
    const credentials = { user: 'outpost', password: `pw-${randomUUID()}` };
    const registry = await startRegistry({ htpasswd: credentials });
    onTestFinished(() => registry.stop());
    const auth = registry.authconfig;
    if (auth === undefined) throw new Error('registry started with htpasswd must expose authconfig');

    const digest = await pushToRegistry(TEST_IMAGE, registry.host, 'harness/busybox', 'v1', auth);
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const ref = `${registry.host}/harness/busybox@${digest}`;
    onTestFinished(async () => {
      await docker.getImage(ref).remove({ noprune: true }).catch(() => undefined);
    });

    await expect(pullImage(ref, { ...auth, password: 'wrong' }, docker)).rejects.toThrow(
      /unauthorized|authentication required|no basic auth credentials|401/i,
    );
    await expect(pullImage(ref, undefined, docker)).rejects.toThrow(/unauthorized|authentication required|no basic auth credentials|401/i);

    await pullImage(ref, auth, docker);
    const pulled = await docker.getImage(ref).inspect();
    const local = await docker.getImage(TEST_IMAGE).inspect();
    expect(pulled.Id).toBe(local.Id);
  });
});

describe('test images', () => {
  it('run busybox commands, differ by variant and stop promptly on SIGTERM', async () => {
    const device = `harness-${randomUUID()}`;
    onTestFinished(async () => {
      await removeContainersByLabel(DEVICE_LABEL, device, docker);
    });

    const [one, two] = await Promise.all([docker.getImage(TEST_IMAGE).inspect(), docker.getImage(TEST_IMAGE_2).inspect()]);
    expect(one.Id).not.toBe(two.Id);
    expect(two.Config.Labels?.[VARIANT_LABEL]).toBe('2');

    const runOnce = async (image: string, cmd: string[]): Promise<string> => {
      const container = await docker.createContainer({ Image: image, Cmd: cmd, Tty: true, Labels: { [DEVICE_LABEL]: device } });
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      expect(StatusCode).toBe(0);
      return (await container.logs({ stdout: true, stderr: true })).toString().trim();
    };
    expect(await runOnce(TEST_IMAGE, ['echo', 'hi'])).toBe('hi');
    expect(await runOnce(TEST_IMAGE_2, ['cat', '/etc/outpost-test-variant'])).toBe('2');

    const longRunning = await docker.createContainer({ Image: TEST_IMAGE, Labels: { [DEVICE_LABEL]: device } });
    await longRunning.start();
    expect(await listContainersByLabel(DEVICE_LABEL, device, docker)).toHaveLength(3);
    const stopStarted = Date.now();
    await longRunning.stop({ t: 10 });
    expect(Date.now() - stopStarted).toBeLessThan(5_000);
    expect((await longRunning.inspect()).State.ExitCode).toBe(0);

    expect(await removeContainersByLabel(DEVICE_LABEL, device, docker)).toHaveLength(3);
    await waitFor(async () => (await listContainersByLabel(DEVICE_LABEL, device, docker)).length === 0, {
      timeoutMs: 10_000,
      description: 'labelled containers removed',
    });
  });
});
