import Docker from 'dockerode';
import { ensureStandardTestImages } from './images.js';

/**
 * Vitest globalSetup: builds the shared test images once, before any worker
 * starts, so parallel test files never race to build them. Without a Docker
 * engine (e.g. `vitest run test/unit` on a laptop) it only warns: tests that
 * need Docker fail on their own with a clearer message.
 */
export async function setup(): Promise<void> {
  const docker = new Docker();
  try {
    await docker.ping();
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    console.warn(`[global-setup] Docker not reachable (${reason}); test images not built`);
    return;
  }
  const started = Date.now();
  await ensureStandardTestImages(docker);
  const elapsedMs = Date.now() - started;
  if (elapsedMs > 1_000) console.info(`[global-setup] test images ready in ${elapsedMs} ms`);
}
