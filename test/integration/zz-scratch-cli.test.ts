import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import { startControlPlane } from '../helpers/control-plane.js';

it('scratch', async () => {
  const rig = await startControlPlane();
  const app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger() });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const a = app.server.address() as { port: number };
  const env = { ...process.env, OUTPOST_API: `http://127.0.0.1:${a.port}`, OUTPOST_TOKEN: rig.adminToken };
  const run = (...args: string[]) => {
    let out: string;
    try { out = execFileSync('node', ['dist/cli/main.js', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }); } catch (e) { out = String((e as {stderr: string}).stderr); }
    console.log(`$ outpost ${args.join(' ')}\n${out}`);
  };
  writeFileSync('/tmp/k1.yaml', 'app: kiosk\nversion: 1.0.0\nservices:\n  web:\n    image: nginx:1.27\n    ports: ["8080:80"]\n    environment: {GREETING: hello}\n  worker:\n    image: busybox\n    command: sleep 1000\n');
  run('device', 'add', 'kiosk-a', '--label', 'role=kiosk', '--label', 'site=a');
  run('device', 'add', 'kiosk-b', '--label', 'role=kiosk');
  run('release', 'create', '/tmp/k1.yaml');
  run('release', 'ls');
  run('release', 'show', 'kiosk@1.0.0');
  run('deploy', 'kiosk@1.0.0', '--to', 'role=kiosk');
  run('device', 'override', 'kiosk-a', 'A=1', '--workload', 'kiosk/web');
  run('device', 'pin', 'kiosk-b', 'kiosk@1.0.0');
  run('device', 'ls');
  run('device', 'show', 'kiosk-a');
  run('device', 'events', 'kiosk-a');
  run('deployment', 'ls');
  run('status');
  run('device', 'show', 'kiosk-a', '--json');
  await app.close(); await rig.close();
});
