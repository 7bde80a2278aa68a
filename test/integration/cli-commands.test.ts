import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import { Command } from '../../shared/schemas/command.js';
import type { DeviceEventInput } from '../../shared/schemas/event.js';
import type { Telemetry } from '../../shared/schemas/telemetry.js';
import { Topics } from '../../shared/topics.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const topics = new Topics();

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `outpost logs|restart|ping|resync|command show|telemetry` against a real API
 * and controller. The device is played by a plain MQTT client with the
 * device's credentials, so the answers are exactly what the test sends.
 */
describe('outpost command-line for device commands', () => {
  let rig: ControlPlaneRig;
  let app: FastifyInstance;
  let api: string;
  let secret: string;
  let epoch = 0;
  const deviceId = 'kiosk-a';

  function cli(args: readonly string[]): Promise<CliResult> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { env: { PATH: process.env.PATH, OUTPOST_API: api, OUTPOST_TOKEN: rig.adminToken } as NodeJS.ProcessEnv, timeout: 60_000 },
        (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  async function ok(args: readonly string[]): Promise<string> {
    const r = await cli(args);
    expect(r.stderr, `outpost ${args.join(' ')}`).toBe('');
    expect(r.code, `outpost ${args.join(' ')}`).toBe(0);
    return r.stdout;
  }

  /** Connects as the device (persistent session, commands subscribed) and says it is online. */
  async function deviceOnline(): Promise<{ client: MqttClient; commands: Command[] }> {
    const client = await mqtt.connectAsync(rig.brokerUrl, {
      clientId: deviceId,
      username: deviceId,
      password: secret,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const commands: Command[] = [];
    client.on('message', (topic, payload) => {
      if (topic === topics.commands(deviceId)) commands.push(Command.parse(JSON.parse(payload.toString())));
    });
    await client.subscribeAsync(topics.commands(deviceId), { qos: 1 });
    await presence(client, 'online');
    await waitFor(async () => (await rig.controller.controlPlane.statusOf(deviceId)).online, { description: 'online' });
    return { client, commands };
  }

  async function deviceOffline(client: MqttClient): Promise<void> {
    await presence(client, 'offline');
    await client.endAsync();
    await waitFor(async () => !(await rig.controller.controlPlane.statusOf(deviceId)).online, { description: 'offline' });
  }

  async function presence(client: MqttClient, status: 'online' | 'offline'): Promise<void> {
    if (status === 'online') epoch++;
    const p = { protocol: 1, deviceId, status, epoch, at: new Date().toISOString() };
    await client.publishAsync(topics.presence(deviceId), JSON.stringify(p), { qos: 1, retain: true });
  }

  async function answer(client: MqttClient, cmd: Command, data: Record<string, unknown>): Promise<void> {
    const event: DeviceEventInput = {
      protocol: 1,
      deviceId,
      id: `ev-${cmd.id}`,
      at: new Date().toISOString(),
      type: 'command.result',
      level: 'info',
      message: `${cmd.type} ${cmd.id} done`,
      data: { commandId: cmd.id, type: cmd.type, ok: true, result: data },
    };
    await client.publishAsync(topics.events(deviceId), JSON.stringify(event), { qos: 1 });
  }

  beforeAll(async () => {
    rig = await startControlPlane();
    app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger() });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the API is not listening on a TCP port');
    api = `http://127.0.0.1:${address.port}`;
    const cp = rig.controller.controlPlane;
    ({ secret } = await cp.addDevice({ id: deviceId }));
    await cp.createRelease({ app: 'kiosk', version: '1', workloads: { web: { image: 'busybox:1' } } });
    await cp.createDeployment({ app: 'kiosk', version: '1', target: { kind: 'devices', devices: [deviceId] } });
    // The device connected once (so the broker holds its session) and went away.
    const { client } = await deviceOnline();
    await deviceOffline(client);
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
  });

  const QUEUED = /^kiosk-a is offline: command (c-\S+) queued, expires at (\S+) \(run `outpost command show kiosk-a (c-\S+)` later\)\n$/;

  it('logs and restart for an offline device answer "queued, expires at …" and exit 0', async () => {
    const sentAt = Date.now();
    const logs = QUEUED.exec(await ok(['logs', deviceId, 'kiosk-web', '--tail', '20']));
    expect(logs, 'logs answer').not.toBeNull();
    expect(logs?.[1]).toBe(logs?.[3]);
    const expires = Date.parse(logs?.[2] ?? '');
    expect(expires - sentAt).toBeGreaterThan(14 * 60_000);
    expect(expires - sentAt).toBeLessThan(16 * 60_000);

    const restart = QUEUED.exec(await ok(['restart', deviceId, 'kiosk/web', '--ttl', '60']));
    expect(restart, 'restart answer').not.toBeNull();
    expect(Date.parse(restart?.[2] ?? '') - sentAt).toBeLessThan(70_000);

    const json = JSON.parse(await ok(['ping', deviceId, '--json'])) as { status: string; online: boolean; command: { id: string; type: string } };
    expect(json).toMatchObject({ status: 'queued', online: false, command: { type: 'ping' } });

    const shown = await ok(['command', 'show', deviceId, logs?.[1] ?? '']);
    expect(shown).toMatch(/^Command\s+c-\S+ \(logs kiosk-web on kiosk-a\)$/m);
    expect(shown).toMatch(/^Status\s+queued$/m);
    expect(shown).toMatch(/^Device\s+offline$/m);
  });

  it('queued commands reach the device when it returns; command show prints the answer', async () => {
    const { client, commands } = await deviceOnline();
    try {
      // The three commands of the previous test were queued in the session.
      await waitFor(() => commands.length >= 3, { description: 'queued commands delivered' });
      expect(commands.map((c) => [c.type, c.workload ?? null])).toEqual([
        ['logs', 'kiosk-web'],
        ['restart', 'kiosk-web'],
        ['ping', null],
      ]);
      const logs = commands[0] as Command;
      expect(logs.tail).toBe(20);
      await answer(client, logs, { containerId: 'abc', tail: 20, lines: 2, truncated: false, text: 'line-1\nline-2' });
      await waitFor(async () => (await cli(['command', 'show', deviceId, logs.id])).stdout.includes('done (ok)'), { description: 'answer stored' });
      const shown = await ok(['command', 'show', deviceId, logs.id]);
      expect(shown).toMatch(/^Status\s+done \(ok\)$/m);
      expect(shown.endsWith('\n\nline-1\nline-2\n')).toBe(true);

      // Online: the CLI waits for the answer and prints it.
      const pinging = cli(['ping', deviceId, '--wait', '10']);
      const ping = await waitFor(() => commands.find((c) => c.type === 'ping' && c.id !== commands[2]?.id), { description: 'live ping' });
      await answer(client, ping, { pong: true, agentVersion: '0.1.0', agentUptimeSeconds: 125, delayMs: 12 });
      const r = await pinging;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('pong from kiosk-a: agent 0.1.0, up 2m, delivered 12 ms after it was sent\n');

      const logsLive = cli(['logs', deviceId, 'kiosk-web', '--tail', '3']);
      const live = await waitFor(() => commands.find((c) => c.type === 'logs' && c.tail === 3), { description: 'live logs' });
      await answer(client, live, { containerId: 'abc', tail: 3, lines: 3, truncated: true, text: 'l-8\nl-9\nl-10' });
      expect((await logsLive).stdout).toBe('l-8\nl-9\nl-10\n');

      // No answer in time: still queued, still exit 0.
      const slow = await cli(['resync', deviceId, '--wait', '1']);
      expect(slow.code).toBe(0);
      expect(slow.stdout).toMatch(/^kiosk-a did not answer within 1s: command c-\S+ is queued and expires at \S+ \(run `outpost command show kiosk-a c-\S+` later\)\n$/);
    } finally {
      await deviceOffline(client);
    }
  });

  it('telemetry: none yet, then the latest sample', async () => {
    expect(await ok(['telemetry', deviceId])).toMatch(/^kiosk-a has sent no telemetry yet/);
    const client = await mqtt.connectAsync(rig.brokerUrl, { clientId: deviceId, username: deviceId, password: secret, clean: true, protocolVersion: 4 });
    const sample: Telemetry = {
      protocol: 1,
      deviceId,
      at: new Date().toISOString(),
      uptimeSeconds: 7200,
      agentUptimeSeconds: 600,
      cpu: { cores: 4, loadAverage1m: 0.5, usagePct: 12.5 },
      memory: { totalBytes: 4 * 1024 ** 3, availableBytes: 1024 ** 3 },
      disk: { path: '/var/lib/outpost', totalBytes: 32 * 1024 ** 3, freeBytes: 8 * 1024 ** 3 },
      containers: [{ workload: 'kiosk-web', state: 'running', restartCount: 2 }],
      mqtt: { bytesIn: 2048, bytesOut: 4096 },
    };
    await client.publishAsync(topics.telemetry(deviceId), JSON.stringify(sample), { qos: 0 });
    await client.endAsync();
    await waitFor(async () => (await rig.controller.controlPlane.telemetryOf(deviceId)) !== null, { description: 'telemetry stored' });
    const out = await ok(['telemetry', deviceId]);
    expect(out).toMatch(/^\s+CPU\s+4 cores, 12\.5% busy, load 0\.50$/m);
    expect(out).toMatch(/^\s+Memory\s+1\.0 GiB available of 4\.0 GiB$/m);
    expect(out).toMatch(/^\s+Disk\s+\/var\/lib\/outpost: 8\.0 GiB free of 32\.0 GiB$/m);
    expect(out).toMatch(/^\s+MQTT\s+2\.0 KiB in, 4\.0 KiB out$/m);
    expect(out).toMatch(/^kiosk-web\s+running\s+2$/m);
    expect(JSON.parse(await ok(['telemetry', deviceId, '--json']))).toEqual({ telemetry: sample });
  });

  it('mistakes are one line and exit 1', async () => {
    const unknown = await cli(['restart', deviceId, 'kiosk-db']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^outpost: workload: kiosk-a has no workload kiosk-db \(its workloads: kiosk-web; .*\(REQUEST_INVALID\)\n$/);
    const missing = await cli(['command', 'show', deviceId, 'c-nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^outpost: device kiosk-a has no command c-nope .*\(COMMAND_NOT_FOUND\)\n$/);
    const noDevice = await cli(['ping', 'kiosk-zz']);
    expect(noDevice.stderr).toMatch(/\(DEVICE_NOT_FOUND\)\n$/);
    const badWait = await cli(['ping', deviceId, '--wait', '61']);
    expect(badWait.code).toBe(1);
    expect(badWait.stderr).toMatch(/waitSeconds.*\(REQUEST_INVALID\)\n$/);
  });
});
