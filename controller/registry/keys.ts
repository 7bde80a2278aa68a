/** Every Redis key the controller uses, in one place (configurable prefix). */
export class Keys {
  constructor(readonly prefix: string) {}
  device(id: string): string {
    return `${this.prefix}device:${id}`;
  }
  devices(): string {
    return `${this.prefix}devices`;
  }
  release(app: string, version: string): string {
    return `${this.prefix}release:${app}@${version}`;
  }
  releases(): string {
    return `${this.prefix}releases`;
  }
  deployment(id: string): string {
    return `${this.prefix}deployment:${id}`;
  }
  deployments(): string {
    return `${this.prefix}deployments`;
  }
  deploymentSeq(): string {
    return `${this.prefix}seq:deployment`;
  }
  /** Per-device desired version counter: INCR only, never deleted, not even on decommission. */
  version(id: string): string {
    return `${this.prefix}version:${id}`;
  }
  /** Last published desired document of a device: {doc, hash, publishedAt}. */
  desired(id: string): string {
    return `${this.prefix}desired:${id}`;
  }
  status(id: string): string {
    return `${this.prefix}status:${id}`;
  }
  events(id: string): string {
    return `${this.prefix}events:${id}`;
  }
  metrics(): string {
    return `${this.prefix}metrics`;
  }
}
