import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type ApiRig } from '../helpers/api.js';
import { runCliEnv } from '../helpers/cli-run.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

/** `outpost login` / `outpost context` against a real controller (DD-044). */
describe('CLI contexts', () => {
  let api: ApiRig;
  let url: string;
  let dir: TempDir;
  let tokenFile: string;

  beforeAll(async () => {
    api = await startApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    const address = api.app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    dir = await makeTempDir('cli-context');
    tokenFile = join(dir.path, 'token');
    writeFileSync(tokenFile, `${api.token}\n`, { mode: 0o600 });
  });
  afterAll(async () => {
    await api?.close();
    await dir?.remove();
  });

  /** The CLI with only a config file in its environment: no OUTPOST_API, no token, a cwd without .outpost/. */
  function cli(args: readonly string[], config: string, extra: Record<string, string> = {}) {
    return runCliEnv(args, { OUTPOST_CONFIG: config, HOME: dir.path, ...extra }, 60_000, dir.path);
  }

  it('login saves a 0600 context with the token, and later commands use it without --api or a token', async () => {
    const config = join(dir.path, 'a', 'config.yaml');
    const login = await cli(['login', url, '--token-file', tokenFile, '--name', 'lab'], config);
    expect(login.stderr).toBe('');
    expect(login.code).toBe(0);
    expect(login.stdout).toContain('context "lab"');
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const saved = parseYaml(readFileSync(config, 'utf8')) as { current: string; contexts: Record<string, { api: string; token: string }> };
    expect(saved.current).toBe('lab');
    expect(saved.contexts.lab).toEqual({ api: url, token: api.token });

    const status = await cli(['status', '--json'], config);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toHaveProperty('devices');
  });

  it('ls, use and rm manage contexts; flags and environment beat the context', async () => {
    const config = join(dir.path, 'b', 'config.yaml');
    expect((await cli(['login', url, '--token-file', tokenFile, '--name', 'good'], config)).code).toBe(0);
    // A second context with a bad API: saved without verification.
    expect((await cli(['login', 'http://127.0.0.1:9', '--token-file', tokenFile, '--name', 'dead', '--no-verify'], config)).code).toBe(0);

    const ls = JSON.parse((await cli(['context', 'ls', '--json'], config)).stdout) as { current: string; contexts: { name: string; current: boolean }[] };
    expect(ls.current).toBe('dead');
    expect(ls.contexts.map((c) => [c.name, c.current])).toEqual([
      ['dead', true],
      ['good', false],
    ]);
    expect(JSON.stringify(ls)).not.toContain(api.token);

    // The current context points nowhere: the command fails to connect ...
    const unreachable = await cli(['status'], config);
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stderr).toContain('API_UNREACHABLE');
    // ... but --context, --api and OUTPOST_API each take precedence.
    expect((await cli(['status', '--context', 'good'], config)).code).toBe(0);
    expect((await cli(['status', '--api', url, '--token-file', tokenFile], config)).code).toBe(0);
    expect((await cli(['status'], config, { OUTPOST_API: url, OUTPOST_TOKEN: api.token })).code).toBe(0);
    // With the URL from the environment the context's token is not sent: unauthorised, not the context's API.
    const noToken = await cli(['status'], config, { OUTPOST_API: url });
    expect(noToken.stderr).toMatch(/UNAUTHORIZED/);

    const use = await cli(['context', 'use', 'good'], config);
    expect(use.code).toBe(0);
    expect((await cli(['context', 'current'], config)).stdout.trim()).toBe('good');
    expect((await cli(['status'], config)).code).toBe(0);

    const rm = await cli(['context', 'rm', 'good'], config);
    expect(rm.stdout).toContain('no context is current');
    const after = JSON.parse((await cli(['context', 'ls', '--json'], config)).stdout) as { current: string | null; contexts: { name: string }[] };
    expect(after).toEqual({ current: null, contexts: [{ name: 'dead', api: 'http://127.0.0.1:9', ca: false, current: false }] });
  });

  it('refuses a wrong token at login and saves nothing; refuses unknown contexts and a broken file with coded errors', async () => {
    const config = join(dir.path, 'c', 'config.yaml');
    const wrong = join(dir.path, 'wrong-token');
    writeFileSync(wrong, 'not-a-token\n', { mode: 0o600 });
    const login = await cli(['login', url, '--token-file', wrong], config);
    expect(login.code).not.toBe(0);
    expect(login.stderr).toMatch(/^outpost: .*\(UNAUTHORIZED\)\n$/);
    expect(() => statSync(config)).toThrow();

    const missing = await cli(['context', 'use', 'nope'], config);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no context "nope".*\(CONTEXT_NOT_FOUND\)/);
    expect((await cli(['status', '--context', 'nope'], config)).stderr).toMatch(/CONTEXT_NOT_FOUND/);
    expect((await cli(['status', '--context', 'x', '--api', url], config)).stderr).toMatch(/exclude each other \(USAGE\)/);

    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, 'contexts: [1, 2]\n', { mode: 0o600 });
    const broken = await cli(['status'], config);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/is invalid.*\(CONFIG_INVALID\)/);
    const brokenLs = await cli(['context', 'ls'], config);
    expect(brokenLs.code).toBe(2);
    expect(brokenLs.stderr).toMatch(/CONFIG_INVALID/);
  });

  it('finds ~/.config/outpost/config.yaml without OUTPOST_CONFIG', async () => {
    const home = join(dir.path, 'home');
    const env = { HOME: home };
    const login = await runCliEnv(['login', url, '--token-file', tokenFile], env, 60_000, dir.path);
    expect(login.code).toBe(0);
    expect(statSync(join(home, '.config', 'outpost', 'config.yaml')).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, '.config', 'outpost')).mode & 0o777).toBe(0o700);
    const ls = JSON.parse((await runCliEnv(['context', 'ls', '--json'], env, 60_000, dir.path)).stdout) as { current: string };
    expect(ls.current).toBe('127.0.0.1-' + new URL(url).port);
  });
});
