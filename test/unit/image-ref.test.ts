import { describe, it, expect } from 'vitest';
import { ImageReference, parseImageRef, registryOf, type ImageRef } from '../../shared/image-ref.js';

const HEX = '0123456789abcdef'.repeat(4);
const DIGEST = `sha256:${HEX}`;

const VALID: ReadonlyArray<[ref: string, expected: ImageRef]> = [
  ['busybox', { domain: undefined, repository: 'busybox', tag: undefined, digest: undefined }],
  ['busybox:1.36', { domain: undefined, repository: 'busybox', tag: '1.36', digest: undefined }],
  ['busybox:latest', { domain: undefined, repository: 'busybox', tag: 'latest', digest: undefined }],
  ['library/busybox', { domain: undefined, repository: 'library/busybox', tag: undefined, digest: undefined }],
  [
    `127.0.0.1:5000/app/web:1.2@${DIGEST}`,
    { domain: '127.0.0.1:5000', repository: '127.0.0.1:5000/app/web', tag: '1.2', digest: DIGEST },
  ],
  ['localhost/app', { domain: 'localhost', repository: 'localhost/app', tag: undefined, digest: undefined }],
  ['localhost:5000/app:v1', { domain: 'localhost:5000', repository: 'localhost:5000/app', tag: 'v1', digest: undefined }],
  ['registry.example.com/a/b', { domain: 'registry.example.com', repository: 'registry.example.com/a/b', tag: undefined, digest: undefined }],
  [`busybox@${DIGEST}`, { domain: undefined, repository: 'busybox', tag: undefined, digest: DIGEST }],
  [`registry.example.com/a/b@${DIGEST}`, { domain: 'registry.example.com', repository: 'registry.example.com/a/b', tag: undefined, digest: DIGEST }],
  ['my_app', { domain: undefined, repository: 'my_app', tag: undefined, digest: undefined }],
  ['my__app/x--y.z', { domain: undefined, repository: 'my__app/x--y.z', tag: undefined, digest: undefined }],
  ['busybox:V1_2.3-rc', { domain: undefined, repository: 'busybox', tag: 'V1_2.3-rc', digest: undefined }],
];

const INVALID: ReadonlyArray<[label: string, ref: string]> = [
  ['empty', ''],
  ['upper-case name', 'BusyBox'],
  ['upper-case path component', 'library/BusyBox'],
  ['upper-case path after a registry', 'registry.example.com/App'],
  ['colon alone', ':'],
  ['tag without name', ':latest'],
  ['empty tag', 'busybox:'],
  ['tag starting with a dash', 'busybox:-x'],
  ['tag of 129 chars', `busybox:${'t'.repeat(129)}`],
  ['digest without name', `@${DIGEST}`],
  ['digest of 63 hex', `busybox@sha256:${HEX.slice(1)}`],
  ['digest of 65 hex', `busybox@sha256:${HEX}0`],
  ['short digest', 'busybox@sha256:abc'],
  ['upper-case digest', `busybox@sha256:${HEX.toUpperCase()}`],
  ['unsupported digest algorithm', `busybox@md5:${'a'.repeat(32)}`],
  ['empty digest', 'busybox@'],
  ['space inside', 'busy box'],
  ['leading space', ' busybox'],
  ['trailing space', 'busybox '],
  ['newline', 'busybox\n'],
  ['dot-dot path', 'a/../b'],
  ['dot-dot alone', '..'],
  ['double dot inside a component', 'a..b'],
  ['leading slash', '/busybox'],
  ['trailing slash', 'busybox/'],
  ['empty component', 'a//b'],
  ['port too long', 'registry.example.com:123456/a'],
  ['scheme', 'https://registry.example.com/a'],
  ['too long', `${'a'.repeat(513)}`],
];

describe('parseImageRef', () => {
  it.each(VALID)('parses %s', (ref, expected) => {
    expect(parseImageRef(ref)).toEqual(expected);
    expect(ImageReference.safeParse(ref).success).toBe(true);
  });

  it.each(INVALID)('rejects %s', (_label, ref) => {
    expect(parseImageRef(ref)).toBeNull();
    expect(ImageReference.safeParse(ref).success).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(parseImageRef(42 as unknown as string)).toBeNull();
    expect(ImageReference.safeParse(42).success).toBe(false);
  });

  it('stays fast on long hostile input', () => {
    const hostile = ['a-'.repeat(250) + '!', 'a.'.repeat(255) + '/', `${'a'.repeat(511)}A`, 'a.a-'.repeat(127) + ':'];
    const started = performance.now();
    for (const ref of hostile) expect(parseImageRef(ref)).toBeNull();
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe('registryOf', () => {
  it('defaults to Docker Hub', () => {
    expect(registryOf(parseImageRef('busybox') as ImageRef)).toBe('docker.io');
    expect(registryOf(parseImageRef('library/busybox') as ImageRef)).toBe('docker.io');
  });

  it('returns the domain with its port', () => {
    expect(registryOf(parseImageRef('127.0.0.1:5000/app') as ImageRef)).toBe('127.0.0.1:5000');
    expect(registryOf(parseImageRef('localhost/app') as ImageRef)).toBe('localhost');
  });
});
