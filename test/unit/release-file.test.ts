import { describe, expect, it } from 'vitest';
import { parseBytes, parseDurationSeconds, parseReleaseFile, ReleaseFileError, splitCommandLine } from '../../cli/release-file.js';

const head = 'app: kiosk\nversion: 1.4.2\n';

/** A one-workload YAML release file with `body` indented under `web:`. */
function web(body: string, section = 'workloads'): string {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `${head}${section}:\n  web:\n${indented}\n`;
}

function rejection(text: string, filename = 'release.yaml'): string {
  try {
    parseReleaseFile(text, filename);
  } catch (err) {
    expect(err).toBeInstanceOf(ReleaseFileError);
    return (err as Error).message;
  }
  throw new Error('expected the release file to be rejected');
}

describe('release files → ReleaseInput', () => {
  const table: [string, string, Record<string, unknown>][] = [
    ['image only', 'image: nginx:1.27', { image: 'nginx:1.27' }],
    ['command string split like a shell', `image: busybox\ncommand: sh -c 'echo "hi there"; sleep 1' --flag="a b"`, {
      image: 'busybox',
      command: ['sh', '-c', 'echo "hi there"; sleep 1', '--flag=a b'],
    }],
    ['command and entrypoint lists', 'image: busybox\nentrypoint: ["/bin/sh", "-c"]\ncommand: [echo, 42]', {
      image: 'busybox',
      entrypoint: ['/bin/sh', '-c'],
      command: ['echo', '42'],
    }],
    ['environment map with scalars', 'image: busybox\nenvironment:\n  GREETING: hello\n  PORT: 8080\n  DEBUG: true\n  EMPTY: ""', {
      image: 'busybox',
      env: { GREETING: 'hello', PORT: '8080', DEBUG: 'true', EMPTY: '' },
    }],
    ['environment list', 'image: busybox\nenvironment:\n  - A=1\n  - B=x=y\n  - C=', { image: 'busybox', env: { A: '1', B: 'x=y', C: '' } }],
    ['env (native spelling)', 'image: busybox\nenv: {A: "1"}', { image: 'busybox', env: { A: '1' } }],
    ['ports: short syntax', 'image: nginx\nports: ["8080:80", "127.0.0.1:5353:53/udp", "[::1]:9000:9000", "7000-7001:8000-8001"]', {
      image: 'nginx',
      ports: [
        { container: 80, host: 8080 },
        { container: 53, host: 5353, protocol: 'udp', hostIp: '127.0.0.1' },
        { container: 9000, host: 9000, hostIp: '::1' },
        { container: 8000, host: 7000 },
        { container: 8001, host: 7001 },
      ],
    }],
    ['ports: long syntax', 'image: nginx\nports:\n  - {target: 80, published: "8080", protocol: tcp, host_ip: 0.0.0.0}', {
      image: 'nginx',
      ports: [{ container: 80, host: 8080, protocol: 'tcp', hostIp: '0.0.0.0' }],
    }],
    ['volumes: named, bind, read-only, long, tmpfs', [
      'image: nginx',
      'volumes:',
      '  - data:/var/lib/data',
      '  - /etc/kiosk:/etc/kiosk:ro',
      '  - {type: bind, source: /srv, target: /srv, read_only: true}',
      '  - {type: volume, source: cache, target: /cache}',
      '  - {type: tmpfs, target: /scratch, tmpfs: {size: 16m}}',
      'tmpfs: /run:size=1m',
    ].join('\n'), {
      image: 'nginx',
      volumes: [
        { type: 'volume', name: 'data', target: '/var/lib/data', readOnly: false },
        { type: 'bind', source: '/etc/kiosk', target: '/etc/kiosk', readOnly: true },
        { type: 'bind', source: '/srv', target: '/srv', readOnly: true },
        { type: 'volume', name: 'cache', target: '/cache' },
        { type: 'tmpfs', target: '/scratch', sizeBytes: 16 * 1024 * 1024 },
        { type: 'tmpfs', target: '/run', sizeBytes: 1024 * 1024 },
      ],
    }],
    ['restart, user, working_dir', 'image: nginx\nrestart: on-failure:3\nuser: 1000\nworking_dir: /app', {
      image: 'nginx',
      restart: 'on-failure',
      restartMaxRetries: 3,
      user: '1000',
      workingDir: '/app',
    }],
    ['restart: no', 'image: nginx\nrestart: "no"', { image: 'nginx', restart: 'no' }],
    ['labels: map and list', 'image: nginx\nlabels: ["com.example.role=kiosk", "com.example.flag"]', {
      image: 'nginx',
      labels: { 'com.example.role': 'kiosk', 'com.example.flag': '' },
    }],
    ['resources from mem_limit, cpus, pids_limit', 'image: nginx\nmem_limit: 256m\ncpus: "0.5"\npids_limit: 100', {
      image: 'nginx',
      resources: { memoryBytes: 256 * 1024 * 1024, cpus: 0.5, pidsLimit: 100 },
    }],
    ['resources from memory and deploy limits', 'image: nginx\nmemory: 1g\ndeploy: {resources: {limits: {cpus: 2, pids: 50}}}', {
      image: 'nginx',
      resources: { memoryBytes: 1024 ** 3, cpus: 2, pidsLimit: 50 },
    }],
    ['stop_grace_period and pull_policy', 'image: nginx\nstop_grace_period: 1m30s\npull_policy: missing', {
      image: 'nginx',
      stopTimeoutSeconds: 90,
      pullPolicy: 'if-not-present',
    }],
    ['pull_policy always, if_not_present', 'image: nginx\npull_policy: always', { image: 'nginx', pullPolicy: 'always' }],
    ['healthcheck (exec form) and min_ready_seconds', 'image: nginx\nhealthcheck:\n  test: ["CMD", "curl", "-f", "http://localhost/"]\n  interval: 10s\n  timeout: 2s\n  retries: 5\n  start_period: 1m\nmin_ready_seconds: 30s', {
      image: 'nginx',
      health: { type: 'cmd', command: ['curl', '-f', 'http://localhost/'], intervalSeconds: 10, timeoutSeconds: 2, retries: 5, startPeriodSeconds: 60 },
      minReadySeconds: 30,
    }],
    ['healthcheck (shell forms)', 'image: nginx\nhealthcheck: {test: "wget -q -O- localhost || exit 1"}', {
      image: 'nginx',
      health: { type: 'cmd', command: ['/bin/sh', '-c', 'wget -q -O- localhost || exit 1'] },
    }],
    ['native health, minReadySeconds and strategy', 'image: nginx\nhealth: {type: http, port: 80, path: /healthz}\nminReadySeconds: 5\nstrategy: hand-over', {
      image: 'nginx',
      health: { type: 'http', port: 80, path: '/healthz' },
      minReadySeconds: 5,
      strategy: 'hand-over',
    }],
    ['cap_add, with and without the CAP_ prefix', 'image: nginx\ncap_add: [NET_ADMIN, CAP_SYS_TIME]', { image: 'nginx', capabilities: ['NET_ADMIN', 'SYS_TIME'] }],
    ['native capabilities', 'image: nginx\ncapabilities: [NET_RAW]', { image: 'nginx', capabilities: ['NET_RAW'] }],
    ['no-op compose values and x- extensions', 'image: nginx\nprivileged: false\nnetwork_mode: bridge\nx-note: ignored', { image: 'nginx' }],
  ];
  it.each(table)('%s', (_name, body, expected) => {
    expect(parseReleaseFile(web(body), 'release.yaml')).toEqual({ app: 'kiosk', version: '1.4.2', workloads: { web: expected } });
  });

  it('accepts compose services, name and anchors, and keeps the version as written', () => {
    const text = [
      'name: kiosk',
      'version: 1.10',
      'x-common: &common',
      '  restart: always',
      'services:',
      '  web:',
      '    <<: *common',
      '    image: nginx:1.27',
      '  worker:',
      '    <<: *common',
      '    image: busybox',
      'volumes:',
      '  data:',
    ].join('\n');
    expect(parseReleaseFile(text, 'compose.yml')).toEqual({
      app: 'kiosk',
      version: '1.10',
      workloads: { web: { image: 'nginx:1.27', restart: 'always' }, worker: { image: 'busybox', restart: 'always' } },
    });
  });

  it('reads JSON by extension and by content, including the native field names', () => {
    const doc = {
      app: 'kiosk',
      version: '2',
      notes: 'second',
      workloads: { web: { image: 'nginx', workingDir: '/w', stopTimeoutSeconds: 5, resources: { cpus: 1 }, ports: [{ container: 80, host: 81 }] } },
    };
    const expected = { ...doc, workloads: { web: { ...doc.workloads.web } } };
    expect(parseReleaseFile(JSON.stringify(doc), 'r.json')).toEqual(expected);
    expect(parseReleaseFile(JSON.stringify(doc), 'r.release')).toEqual(expected);
  });

  const rejections: [string, string, RegExp][] = [
    ['privileged', 'image: nginx\nprivileged: true', /workloads\.web\.privileged: not supported by Outpost/],
    ['host networking', 'image: nginx\nnetwork_mode: host', /workloads\.web\.network_mode: network_mode "host" is not supported/],
    ['depends_on', 'image: nginx\ndepends_on: [db]', /workloads\.web\.depends_on: not supported by Outpost \(the workloads of a release start independently/],
    ['build', 'build: .', /workloads\.web\.build: not supported.*prebuilt images/],
    ['a typo', 'image: nginx\nenviroment: {A: "1"}', /workloads\.web\.enviroment: unknown key \(did you mean environment\?\)/],
    ['an unknown key', 'image: nginx\nfrobnicate: 1', /workloads\.web\.frobnicate: unknown key \(not a supported compose key\)/],
    ['a missing image', 'restart: always', /workloads\.web\.image: required/],
    ['a bad image', 'image: "NGINX::1"', /workloads\.web\.image: image must be a Docker reference/],
    ['a port without host port', 'image: nginx\nports: ["80"]', /workloads\.web\.ports\[0\]: "80" has no host port/],
    ['an out-of-range port', 'image: nginx\nports: ["70000:80"]', /workloads\.web\.ports\[0\]\.host: /],
    ['an anonymous volume', 'image: nginx\nvolumes: ["/data"]', /workloads\.web\.volumes\[0\]: "\/data" is an anonymous volume/],
    ['a relative bind mount', 'image: nginx\nvolumes: ["./conf:/conf"]', /bind mounts need an absolute host path/],
    ['an env entry without value', 'image: nginx\nenvironment: [TOKEN]', /workloads\.web\.environment\.TOKEN: has no value/],
    ['a bad env name (source spelling)', 'image: nginx\nenvironment: {"BAD-NAME": x}', /workloads\.web\.environment\.BAD-NAME: env names must match/],
    ['env and environment together', 'image: nginx\nenv: {A: "1"}\nenvironment: {B: "2"}', /workloads\.web\.environment: env is given too/],
    ['a bad size', 'image: nginx\nmem_limit: lots', /workloads\.web\.mem_limit: "lots" is not a size/],
    ['a too small memory limit', 'image: nginx\nmem_limit: 1k', /workloads\.web\.mem_limit: /],
    ['memory given twice', 'image: nginx\nmem_limit: 1g\ndeploy: {resources: {limits: {memory: 2g}}}', /memoryBytes is already set by mem_limit/],
    ['a bad duration', 'image: nginx\nstop_grace_period: soon', /stop_grace_period: "soon" is not a duration/],
    ['pull_policy never', 'image: nginx\npull_policy: never', /pull_policy: "never" is not supported/],
    ['a bad restart policy', 'image: nginx\nrestart: sometimes', /workloads\.web\.restart: /],
    ['an unterminated quote', "image: nginx\ncommand: echo 'hi", /workloads\.web\.command: unterminated ' quote/],
    ['a disabled healthcheck', 'image: nginx\nhealthcheck: {disable: true}', /workloads\.web\.healthcheck\.disable: disabling the image's health check is not supported/],
    ['a healthcheck without test', 'image: nginx\nhealthcheck: {interval: 5s}', /workloads\.web\.healthcheck\.test: required/],
    ['an unknown strategy', 'image: nginx\nstrategy: yolo', /workloads\.web\.strategy: /],
    ['cap_add ALL', 'image: nginx\ncap_add: [ALL]', /workloads\.web\.cap_add\[0\]: capabilities are named like NET_ADMIN/],
    ['cap_drop', 'image: nginx\ncap_drop: [NET_RAW]', /workloads\.web\.cap_drop: not supported by Outpost \(containers already run with a minimal capability set/],
    ['deploy replicas', 'image: nginx\ndeploy: {replicas: 3}', /workloads\.web\.deploy\.replicas: not supported by Outpost/],
  ];
  it.each(rejections)('rejects %s with a message naming the field', (_name, body, message) => {
    expect(rejection(web(body))).toMatch(message);
  });

  it('names the section the file used (services) in messages', () => {
    expect(rejection(web('image: nginx\nprivileged: true', 'services'))).toMatch(/services\.web\.privileged/);
  });

  it.each([
    ['an empty file', '', /the file is empty/],
    ['a list', '- a\n- b', /expected a map with app, version and workloads/],
    ['invalid YAML', 'app: [kiosk', /not valid YAML/],
    ['missing app and version', 'workloads:\n  web: {image: nginx}', /app: required.*version: required/],
    ['no workloads', head, /workloads: required/],
    ['empty workloads', `${head}workloads: {}`, /workloads: a release needs at least one workload/],
    ['an upper-case workload name', `${head}workloads:\n  Web: {image: nginx}`, /workloads\.Web: workload names in a release/],
    ['a bad app name', 'app: Kiosk!\nversion: "1"\nworkloads: {web: {image: nginx}}', /app: app names: /],
    ['networks', `${head}workloads: {web: {image: nginx}}\nnetworks: {front: {}}`, /networks: top-level networks are not supported/],
    ['volume options', `${head}workloads: {web: {image: nginx}}\nvolumes: {data: {driver: nfs}}`, /volumes\.data: volume options/],
    ['a top-level typo', `${head}worklods: {web: {image: nginx}}`, /worklods: unknown top-level key \(did you mean workloads\?\)/],
  ])('rejects %s', (_name, text, message) => {
    expect(rejection(text)).toMatch(message);
  });

  it('rejects invalid JSON with the parser message', () => {
    expect(rejection('{"app": ', 'r.json')).toMatch(/invalid r\.json: not valid JSON/);
  });

  it('lists every problem, not only the first', () => {
    const message = rejection(web('image: nginx\nprivileged: true\nports: ["80"]\ncap_drop: [NET_ADMIN]'));
    expect(message).toMatch(/privileged: .*ports\[0\]: .*cap_drop: /);
  });
});

describe('release file scalars', () => {
  it.each([
    ['echo hi', ['echo', 'hi']],
    ['  a   b  ', ['a', 'b']],
    [`sh -c "echo \\"x\\""`, ['sh', '-c', 'echo "x"']],
    [`a\\ b 'c d' ""`, ['a b', 'c d', '']],
  ])('splits %j', (text, words) => {
    expect(splitCommandLine(text)).toEqual(words);
  });

  it.each([
    [1024, 1024],
    ['256m', 268435456],
    ['1g', 1073741824],
    ['512kb', 524288],
    ['64MiB', 67108864],
    ['1.5k', 1536],
    ['12b', 12],
    ['lots', null],
    [-1, null],
  ])('bytes %j → %j', (value, bytes) => {
    expect(parseBytes(value)).toBe(bytes);
  });

  it.each([
    ['10s', 10],
    ['1m30s', 90],
    ['1h', 3600],
    ['1500ms', 2],
    [7, 7],
    ['10', null],
    ['soon', null],
  ])('duration %j → %j s', (value, seconds) => {
    expect(parseDurationSeconds(value)).toBe(seconds);
  });
});
