import { createHash } from 'node:crypto';
import { parseImageRef } from '../../../shared/image-ref.js';
import type { ObservedImage } from '../runtime.js';

const repositoryOf = (ref: string): string => parseImageRef(ref)?.repository ?? ref;

/** `busybox` and `busybox:latest` are one image, as for Docker. */
export function normalizeRef(ref: string): string {
  const parsed = parseImageRef(ref);
  if (!parsed || parsed.tag || parsed.digest) return ref;
  return `${ref}:latest`;
}

/** A simulated image id: stable per reference (without digest), so every simulated device agrees. */
export function simImageId(ref: string): string {
  return `sha256:${createHash('sha256').update(`image ${normalizeRef(ref).replace(/@.*$/, '')}`).digest('hex')}`;
}

/** The images of one simulated engine, kept as Docker's reference store keeps them. */
export class SimImages {
  /** Reference (tag or repo@digest) → image id. */
  private readonly refs = new Map<string, string>();
  /** Image id → its repo digests. */
  private readonly digests = new Map<string, string[]>();

  store(ref: string, repoDigests: readonly string[]): void {
    const id = simImageId(ref);
    this.refs.set(normalizeRef(ref), id);
    for (const d of repoDigests) this.refs.set(d, id);
    this.digests.set(id, [...new Set([...(this.digests.get(id) ?? []), ...repoDigests])]);
  }

  /** By reference or by id; null when absent. */
  inspect(ref: string): ObservedImage | null {
    const id = this.refs.get(normalizeRef(ref)) ?? (this.digests.has(ref) ? ref : undefined);
    return id === undefined ? null : { id, repoDigests: [...(this.digests.get(id) ?? [])] };
  }

  /**
   * Docker's rules for removing by reference: with references of several
   * repositories the reference is only untagged; when all are of one
   * repository, a container using the image (running or not) refuses it;
   * digest references go with the last tag of their repository.
   */
  remove(ref: string, inUse: (imageId: string) => boolean): boolean {
    const key = normalizeRef(ref);
    const id = this.refs.get(key);
    if (id === undefined) return false;
    const refsOfImage = [...this.refs].filter(([, i]) => i === id).map(([r]) => r);
    if (new Set(refsOfImage.map(repositoryOf)).size <= 1 && inUse(id)) return false;
    this.refs.delete(key);
    const repo = repositoryOf(key);
    const tagsLeft = refsOfImage.some((r) => r !== key && repositoryOf(r) === repo && !r.includes('@'));
    if (!tagsLeft) for (const r of refsOfImage) if (repositoryOf(r) === repo) this.refs.delete(r);
    if (![...this.refs.values()].includes(id)) this.digests.delete(id);
    return true;
  }
}
