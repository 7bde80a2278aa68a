import { execFileSync } from 'node:child_process';

/*
 * Testcontainers' reaper (Ryuk) is off in this project (.ci/run: its image
 * cannot be pulled here), so nothing removes a test's containers and networks
 * if its worker dies before afterAll. One `exit` hook removes what is still
 * registered, synchronously (an exit hook cannot wait for promises); the
 * helpers unregister what they removed themselves.
 */
const containers = new Set<string>();
const networks = new Set<string>();
let hookInstalled = false;

function removeLeftovers(): void {
  const run = (args: string[]): void => {
    try {
      execFileSync('docker', args, { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // already gone, or Docker itself is gone: nothing more to do at exit
    }
  };
  if (containers.size) run(['rm', '-f', '-v', ...containers]);
  for (const id of networks) run(['network', 'rm', id]);
}

function installHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.once('exit', removeLeftovers);
}

export function removeAtExit(kind: 'container' | 'network', id: string): void {
  installHook();
  (kind === 'container' ? containers : networks).add(id);
}

export function removedAlready(kind: 'container' | 'network', id: string): void {
  (kind === 'container' ? containers : networks).delete(id);
}
