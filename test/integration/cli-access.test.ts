import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../controller/http/build-api.js';
import { silentLogger } from '../../shared/logger.js';
import { CLI } from '../helpers/agent-process.js';
import { startControlPlane, type ControlPlaneRig } from '../helpers/control-plane.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `outpost token …` and `outpost audit` against a real API, and the refusal of secrets on command lines. */
describe('outpost token and audit commands', () => {
  let rig: ControlPlaneRig;
  let app: FastifyInstance;
  let api: string;
  let dir: TempDir;

  function cli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
    return new Promise((done) => {
      execFile(
        process.execPath,
        [CLI, ...args],
        { cwd: dir.path, env: { PATH: process.env.PATH, OUTPOST_API: api, OUTPOST_TOKEN: rig.adminToken, ...env } as NodeJS.ProcessEnv, timeout: 60_000 },
        (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  async function ok(args: readonly string[], env?: Record<string, string | undefined>): Promise<string> {
    const r = await cli(args, env);
    expect(r.stderr, `outpost ${args.join(' ')}`).toBe('');
    expect(r.code, `outpost ${args.join(' ')}`).toBe(0);
    return r.stdout;
  }

  /** A failing command: its exit code and its one stderr line. */
  async function fails(args: readonly string[], env?: Record<string, string | undefined>): Promise<{ code: number; line: string }> {
    const r = await cli(args, env);
    expect(r.code, `outpost ${args.join(' ')} should fail; stdout: ${r.stdout}`).not.toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    return { code: r.code, line: lines[0] ?? '' };
  }

  const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    dir = await makeTempDir('cli-access');
    rig = await startControlPlane();
    app = await buildApi(rig.controller.controlPlane, { adminTokens: [rig.adminToken], logger: silentLogger() });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('the API is not listening on a TCP port');
    api = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await dir?.remove();
  });

  it('token create prints the token once, token ls lists it without the secret, token rm revokes it at once', async () => {
    const name = unique('ci-viewer');
    const out = await ok(['token', 'create', name, '--role', 'viewer']);
    expect(out).toMatch(new RegExp(`^Created token [0-9a-f]{12} \\(${name}, role viewer\\)$`, 'm'));
    const token = /^Token: (opt_\S+)$/m.exec(out)?.[1] ?? '';
    expect(token).toMatch(/^opt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(out).toContain('shown only once');
    const id = token.slice(4, 16);

    const listed = await ok(['token', 'ls']);
    expect(listed.split('\n')[0]).toMatch(/^ID\s+NAME\s+ROLE\s+CREATED\s+BY\s+LAST USED$/);
    expect(listed).toMatch(new RegExp(`^${id}\\s+${name}\\s+viewer\\s+.*config-admin\\s+never$`, 'm'));
    expect(listed).not.toContain(token.slice(17));

    // The viewer token reads, cannot deploy, and is refused once revoked.
    expect(JSON.parse(await ok(['status', '--json'], { OUTPOST_TOKEN: token }))).toHaveProperty('devices');
    const deploy = await fails(['deploy', 'web@1.0.0', '--to', 'a=b'], { OUTPOST_TOKEN: token });
    expect(deploy.code).toBe(1);
    expect(deploy.line).toMatch(/^outpost: token .* has role viewer; POST \/v1\/deployments needs operator \(FORBIDDEN\)$/);

    expect(await ok(['token', 'rm', id])).toBe(`Revoked token ${id} (${name}, role viewer)\n`);
    const revoked = await fails(['status'], { OUTPOST_TOKEN: token });
    expect(revoked.line).toMatch(/not valid.*\(UNAUTHORIZED\)$/);
    expect((await fails(['token', 'rm', id])).line).toMatch(/\(TOKEN_NOT_FOUND\)$/);
  });

  it('token create --out writes the token 0600 and prints no secret; --json answers for scripts', async () => {
    const file = join(dir.path, 'operator.token');
    const out = await ok(['token', 'create', unique('deployer'), '--role', 'operator', '--out', file]);
    expect(out).toMatch(/^Created token [0-9a-f]{12} \(deployer-\w+, role operator\); it is in .*operator\.token$/m);
    const token = (await readFile(file, 'utf8')).trim();
    expect(out).not.toContain(token);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // An operator reads and deploys through --token-file, but cannot manage tokens.
    const ls = await fails(['token', 'ls', '--token-file', file], { OUTPOST_TOKEN: undefined });
    expect(ls.line).toMatch(/has role operator; GET \/v1\/tokens needs admin \(FORBIDDEN\)$/);

    const created = JSON.parse(await ok(['token', 'create', unique('script'), '--role', 'admin', '--json'])) as { token: { id: string; role: string }; secret: string };
    expect(created.token.role).toBe('admin');
    expect(created.secret).toMatch(/^opt_/);
    const all = JSON.parse(await ok(['token', 'ls', '--json'])) as { tokens: { id: string }[] };
    expect(all.tokens.map((t) => t.id)).toContain(created.token.id);

    const usage = await fails(['token', 'create', unique('x')]);
    expect(usage.line).toMatch(/--role must be one of viewer, operator, admin \(USAGE\)$/);
  });

  it('warns when a token file is readable by group or others, and still uses it', async () => {
    const file = join(dir.path, 'open.token');
    await writeFile(file, `${rig.adminToken}\n`, { mode: 0o644 });
    const r = await cli(['status', '--json', '--token-file', file], { OUTPOST_TOKEN: undefined });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`outpost: warning: ${file} (mode 0644): secret file is accessible to group or others; restrict it with chmod 600\n`);
  });

  it('audit lists who changed what, newest first, with outcome and request id; --json and --limit page it', async () => {
    const name = unique('audited');
    const created = JSON.parse(await ok(['token', 'create', name, '--role', 'viewer', '--json'])) as { token: { id: string }; secret: string };
    await fails(['device', 'label', 'kiosk-zz', 'a=b'], { OUTPOST_TOKEN: created.secret });

    const table = await ok(['audit', '--limit', '5']);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s*SEQ\s+AT\s+WHO\s+WHAT\s+OUTCOME\s+REQUEST$/);
    expect(lines[1]).toMatch(new RegExp(`^\\s*\\d+\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+${name}/${created.token.id} \\(viewer\\)\\s+PATCH /v1/devices/kiosk-zz/labels\\s+403 FORBIDDEN\\s+[0-9a-f-]{36}$`));
    expect(lines[2]).toMatch(/config-admin \(admin\)\s+POST \/v1\/tokens\s+201\s/);
    expect(table).toMatch(/^Older entries: outpost audit --before \d+$/m);

    const page = JSON.parse(await ok(['audit', '--limit', '2', '--json'])) as { entries: { seq: number; actor: { name: string } }[]; nextBefore: number };
    expect(page.entries.map((e) => e.actor.name)).toEqual([name, 'config-admin']);
    const older = JSON.parse(await ok(['audit', '--limit', '1', '--before', String(page.nextBefore), '--json'])) as { entries: { seq: number }[] };
    expect(older.entries[0]?.seq).toBeLessThan(page.nextBefore);
    expect(JSON.stringify(page)).not.toContain(created.secret);

    const viewer = await fails(['audit'], { OUTPOST_TOKEN: created.secret });
    expect(viewer.line).toMatch(/GET \/v1\/audit needs admin \(FORBIDDEN\)$/);
  });
});

describe('secrets never on command lines', () => {
  let dir: TempDir;

  function run(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
    return new Promise((done) => {
      execFile(process.execPath, [CLI, ...args], { cwd: dir.path, env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv, timeout: 30_000 }, (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      );
    });
  }

  beforeAll(async () => {
    dir = await makeTempDir('secret-flags');
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it.each([
    ['controller --admin-token', ['controller', '--admin-token', 't'.repeat(32)], /--admin-token is not accepted: .* use --admin-token-file FILE or env OUTPOST_ADMIN_TOKEN/],
    ['controller --service-password', ['controller', '--service-password', 'p'.repeat(32)], /--service-password is not accepted: .* use --service-password-file FILE or env OUTPOST_SERVICE_PASSWORD/],
    ['agent --secret', ['agent', '--device', 'kiosk-a', '--broker', 'mqtt://127.0.0.1:1883', '--secret', 's'.repeat(43)], /--secret is not accepted: .* use --secret-file FILE or env OUTPOST_DEVICE_SECRET/],
    ['broker run --service-password', ['broker', 'run', '--redis', 'redis://127.0.0.1:1', '--service-password', 'p'.repeat(32)], /--service-password is not accepted: .* use --service-password-file FILE or env OUTPOST_SERVICE_PASSWORD/],
    ['broker add-device --secret', ['broker', 'add-device', 'kiosk-a', '--redis', 'redis://127.0.0.1:1', '--secret', 's'.repeat(43)], /--secret is not accepted: .* use --secret-file FILE/],
  ] as const)('outpost %s is refused, naming the alternative', async (_label, args, message) => {
    const r = await run(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('visible to every local user');
  });

  it('broker add-device refuses a chosen secret under 32 characters, and stores a long one', async () => {
    const { startRedis } = await import('../helpers/redis.js');
    const redis = await startRedis();
    try {
      const short = join(dir.path, 'short.secret');
      await writeFile(short, `${'s'.repeat(31)}\n`, { mode: 0o600 });
      const refused = await run(['broker', 'add-device', 'kiosk-a', '--redis', redis.url, '--secret-file', short]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/has 31 characters; at least 32 are required/);

      const open = join(dir.path, 'open.secret');
      await writeFile(open, `${'s'.repeat(40)}\n`, { mode: 0o640 });
      const stored = await run(['broker', 'add-device', 'kiosk-a', '--redis', redis.url, '--secret-file', open]);
      expect(stored.code, stored.stderr).toBe(0);
      expect(stored.stderr).toContain(`warning: ${open} (mode 0640): secret file is accessible to group or others`);
      expect(stored.stderr).toContain('credential stored for kiosk-a');
      expect(stored.stdout).toBe('');
    } finally {
      await redis.stop();
    }
  });
});
