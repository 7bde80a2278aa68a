import { describe, expect, it } from 'vitest';
import { classifyPullError } from '../../agent/runtime/docker-runtime.js';

/** The engine's own pull messages (Docker 20.10) → the code a report carries, so it says what to fix. */
describe('classifyPullError', () => {
  it.each([
    ['write /var/lib/docker/tmp/GetImageBlob463647868: no space left on device', 'IMAGE_STORAGE_FULL'],
    ['failed to register layer: Error processing tar file(exit status 1): write /blob: no space left on device', 'IMAGE_STORAGE_FULL'],
    ['manifest for 127.0.0.1:5000/app:9 not found: manifest unknown', 'IMAGE_NOT_FOUND'],
    ['unauthorized: authentication required', 'REGISTRY_AUTH'],
    ['Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused', 'IMAGE_PULL_FAILED'],
  ])('%s → %s', (message, code) => {
    expect(classifyPullError(message)).toBe(code);
  });
});
