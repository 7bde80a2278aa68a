import type { Redis } from 'ioredis';
import { canonicalJson, sha256Hex } from '../../shared/canonical-json.js';
import { ControllerError } from '../errors.js';
import { releaseRef } from '../model/names.js';
import { Release, ReleaseInput } from '../model/release.js';
import { getJson, mgetJson } from './json-store.js';
import type { Keys } from './keys.js';

/** Immutable releases: creating an existing `app@version` with other content is a conflict. */
export class ReleaseStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => number,
  ) {}

  /** Returns the release and whether it was new; identical re-creation is idempotent. */
  async create(input: ReleaseInput): Promise<{ release: Release; created: boolean }> {
    const parsed = ReleaseInput.parse(input);
    const digest = sha256Hex(canonicalJson({ app: parsed.app, version: parsed.version, workloads: parsed.workloads }));
    const release: Release = { ...parsed, createdAt: new Date(this.now()).toISOString(), digest };
    const key = this.keys.release(parsed.app, parsed.version);
    const created = await this.redis.set(key, JSON.stringify(release), 'NX');
    if (created === null) {
      const existing = await this.require(parsed.app, parsed.version);
      if (existing.digest !== digest) {
        throw new ControllerError(
          'RELEASE_CONFLICT',
          `release ${releaseRef(parsed.app, parsed.version)} already exists with different content; releases are immutable, create a new version`,
          { details: { existingDigest: existing.digest, digest } },
        );
      }
      return { release: existing, created: false };
    }
    await this.redis.zadd(this.keys.releases(), this.now(), releaseRef(parsed.app, parsed.version));
    return { release, created: true };
  }

  get(app: string, version: string): Promise<Release | null> {
    return getJson(this.redis, this.keys.release(app, version), Release);
  }

  async require(app: string, version: string): Promise<Release> {
    const r = await this.get(app, version);
    if (!r) throw new ControllerError('RELEASE_NOT_FOUND', `release ${releaseRef(app, version)} does not exist`);
    return r;
  }

  /** Newest first. */
  async list(app?: string): Promise<Release[]> {
    const refs = await this.redis.zrevrange(this.keys.releases(), 0, -1);
    const wanted = app ? refs.filter((r) => r.startsWith(`${app}@`)) : refs;
    const values = await mgetJson(
      this.redis,
      wanted.map((ref) => `${this.keys.prefix}release:${ref}`),
      Release,
    );
    return values.filter((r): r is Release => r !== null);
  }

  /** The releases named by refs (`app@version`), keyed by ref. */
  async byRefs(refs: Iterable<string>): Promise<Map<string, Release>> {
    const list = [...new Set(refs)];
    const values = await mgetJson(this.redis, list.map((ref) => `${this.keys.prefix}release:${ref}`), Release);
    const out = new Map<string, Release>();
    values.forEach((r, i) => {
      const ref = list[i];
      if (r && ref) out.set(ref, r);
    });
    return out;
  }
}
