/**
 * What a reconcile pass towards a version is (pure), decided from what the
 * agent has applied, rolled back and deferred:
 * - `resync`: the applied version again (the periodic level-based pass, a
 *   reconnect, a `resync` command): it repairs drift; nothing is being applied;
 * - `held-back`: a version whose health gate failed: the previous one is kept;
 * - `recheck`: a deferred version looked at again (its window, its locks);
 * - `apply`: a version the device does not run yet: download and update.
 * Only `apply` makes the device report `applying` and say `reconcile.started`:
 * the others must not flip its phase while they run (a failed or rolled-back
 * device would look busy for the length of each periodic pass).
 */
export type PassKind = 'resync' | 'held-back' | 'recheck' | 'apply';

export function passKind(
  version: number,
  known: { appliedVersion: number | null; failedVersion: number | null; deferredVersion: number | null },
): PassKind {
  if (version === known.appliedVersion) return 'resync';
  if (version === known.failedVersion) return 'held-back';
  if (version === known.deferredVersion) return 'recheck';
  return 'apply';
}
