import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type DockerType from 'dockerode';

const require = createRequire(import.meta.url);

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Puts a stand-in for the CommonJS module at `path` into the require cache:
 * whoever requires it gets a function that loads the real module on its first
 * call and forwards every call to it. For modules that export one function
 * and are expensive to load but rarely called. Returns false when the module
 * was already loaded (then nothing changes).
 */
export function deferModule(path: string): boolean {
  const cache = require.cache;
  if (cache[path]) return false;
  let real: AnyFunction | undefined;
  const load = (): AnyFunction => {
    if (!real) {
      if (cache[path] === stub) delete cache[path];
      real = require(path) as AnyFunction;
    }
    return real;
  };
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = function deferred(this: unknown, ...args: unknown[]): unknown {
    return load().apply(this, args);
  };
  cache[path] = stub;
  return true;
}

/**
 * dockerode as the agent uses it: HTTP over the Docker socket (issue 11).
 * dockerode and docker-modem require, at import, ssh2 (a native module and a
 * 16 MB WebAssembly buffer; only for `ssh://` Docker hosts) and @grpc/grpc-js
 * with @grpc/proto-loader (only for BuildKit sessions) — ~26 MB of RSS the
 * agent never uses. Their entry points inside dockerode (`lib/session.js`) and
 * docker-modem (`lib/ssh.js`) each export one function; they are deferred,
 * so those libraries load only if such a call is ever made. `protobufjs`
 * (dockerode's `lib/buildkit.js`) is already required lazily by dockerode.
 */
export function loadDockerode(): typeof DockerType {
  const dockerodeMain = require.resolve('dockerode');
  const modemMain = createRequire(dockerodeMain).resolve('docker-modem');
  deferModule(join(dirname(dockerodeMain), 'session.js'));
  deferModule(join(dirname(modemMain), 'ssh.js'));
  return require('dockerode') as typeof DockerType;
}
