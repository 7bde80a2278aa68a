import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { AGENT_VERSION } from '../../shared/version.js';

describe('AGENT_VERSION', () => {
  it('equals the package.json version', () => {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg ? pkg.version : undefined;
    expect(typeof version).toBe('string');
    expect(AGENT_VERSION).toBe(version);
  });
});
