import Docker from 'dockerode';

/**
 * loadDockerode() of the standalone agent (scripts/bundle-agent.ts puts it in
 * place of dockerode-lean.ts): dockerode is inside the bundle, and its ssh and
 * BuildKit-session entry points are replaced by stubs there, so nothing needs
 * deferring.
 */
export function loadDockerode(): typeof Docker {
  return Docker;
}
