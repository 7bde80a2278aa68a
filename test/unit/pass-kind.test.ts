import { describe, expect, it } from 'vitest';
import { passKind } from '../../agent/apply/pass-kind.js';

describe('what a reconcile pass is', () => {
  const known = { appliedVersion: 3, failedVersion: 5, deferredVersion: 6 };

  it('the applied version again is a resync, the rolled-back one is held back, the deferred one re-checked, anything else applied', () => {
    expect(passKind(3, known)).toBe('resync');
    expect(passKind(5, known)).toBe('held-back');
    expect(passKind(6, known)).toBe('recheck');
    expect(passKind(7, known)).toBe('apply');
    expect(passKind(2, known)).toBe('apply');
  });

  it('a device that has applied nothing applies its first version', () => {
    expect(passKind(1, { appliedVersion: null, failedVersion: null, deferredVersion: null })).toBe('apply');
  });

  it('a version both applied and deferred (a re-sent applied version while another was deferred) is a resync', () => {
    expect(passKind(4, { appliedVersion: 4, failedVersion: null, deferredVersion: 4 })).toBe('resync');
  });
});
