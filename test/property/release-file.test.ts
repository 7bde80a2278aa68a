import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseReleaseFile, ReleaseFileError } from '../../cli/release-file.js';
import { ReleaseInput } from '../../controller/model/release.js';
import { mutated } from './arbitraries/mutate.js';
import { keyArb, workloadSpecArb } from './arbitraries/protocol.js';
import { runs } from './arbitraries/settings.js';

/**
 * The CLI's release file parser (cli/release-file.ts): any text gives a
 * release or a ReleaseFileError listing the problems, and a release written
 * out as JSON or YAML (in Outpost's own field names) reads back as itself.
 */

/**
 * Workloads in the native spelling the parser passes through (ports and
 * volumes have compose syntaxes of their own); an empty `resources` map is
 * the same as none, and reads back as none.
 */
const workloadArb = workloadSpecArb().map(({ ports: _p, volumes: _v, capabilities: _c, resources, ...rest }) =>
  resources && Object.keys(resources).length > 0 ? { ...rest, resources } : rest,
);

const releaseArb = fc.record(
  {
    app: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}$/),
    version: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,20}$/),
    workloads: fc.dictionary(keyArb(/^[a-z0-9][a-z0-9_-]{0,30}$/), workloadArb, { minKeys: 1, maxKeys: 3 }),
    notes: fc.string({ maxLength: 50 }),
  },
  { requiredKeys: ['app', 'version', 'workloads'] },
);

/** Release-file-like text: YAML fragments with the keys the parser knows, in random order and shape. */
const yamlishArb = fc
  .array(
    fc.oneof(
      fc.constantFrom('app: kiosk', 'version: 1.10', 'version: 1', 'workloads:', 'services:', '  web:', '    image: nginx:1.27', '    ports: ["8080:80"]', '    environment:', '      - A=1', '      A: 1', '    volumes: [data:/d]', 'volumes:', '  data: {}', 'x-anchor: &a {image: busybox}', '  db: *a', '<<: *a', 'networks: {}', '    deploy: {resources: {limits: {memory: 64m}}}', '    healthcheck: {test: [CMD, true]}', '    restart: on-failure:3', '    command: sh -c "echo', '---', '- a', '{', '"'),
      fc.string({ maxLength: 20 }),
    ),
    { maxLength: 12 },
  )
  .map((lines) => lines.join('\n'));

function parse(text: string, filename: string): { ok: true; release: unknown } | { ok: false; issues: readonly string[] } {
  try {
    return { ok: true, release: parseReleaseFile(text, filename) };
  } catch (err) {
    if (err instanceof ReleaseFileError) return { ok: false, issues: err.issues };
    throw err;
  }
}

const filenameArb = fc.constantFrom('release.yaml', 'release.yml', 'release.json', 'release', 'RELEASE.JSON');

describe('release files (property-based)', () => {
  it('counterexamples this suite found: a merge of an undefined alias is a ReleaseFileError; env and labels named like Object.prototype members are ordinary names', () => {
    expect(parse('<<: *a', 'release.yaml')).toMatchObject({ ok: false, issues: [expect.stringMatching(/^not valid YAML/)] });
    const text = 'app: kiosk\nversion: "1"\nworkloads:\n  web:\n    image: busybox\n    environment: {constructor: a, toString: b}\n    labels: [constructor=c]\n';
    expect(parse(text, 'release.yaml')).toEqual({
      ok: true,
      release: { app: 'kiosk', version: '1', workloads: { web: { image: 'busybox', env: { constructor: 'a', toString: 'b' }, labels: { constructor: 'c' } } } },
    });
  });

  it('any text: a release that passes the API schema, or a ReleaseFileError with at least one issue', () => {
    const textArb = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ maxLength: 200, unit: 'binary' }),
      yamlishArb,
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
      mutated(releaseArb).map((r) => JSON.stringify(r) ?? ''),
      mutated(releaseArb).map((r) => stringify(r)),
    );
    fc.assert(
      fc.property(textArb, filenameArb, (text, filename) => {
        const result = parse(text, filename);
        if (result.ok) expect(ReleaseInput.safeParse(result.release).success).toBe(true);
        else expect(result.issues.length).toBeGreaterThan(0);
      }),
      runs(1000),
    );
  });

  it('a release written as JSON or YAML reads back as itself', () => {
    fc.assert(
      fc.property(releaseArb, fc.boolean(), (release, asYaml) => {
        const text = asYaml ? stringify(release) : JSON.stringify(release, null, 2);
        const result = parse(text, asYaml ? 'release.yaml' : 'release.json');
        if (!result.ok) throw new Error(`a valid release was refused: ${result.issues.join('; ')}\n${text}`);
        expect(result.release).toEqual(release);
      }),
      runs(300),
    );
  });
});
