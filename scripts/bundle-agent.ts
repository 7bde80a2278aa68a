import { build, type BuildOptions, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * dist/agent/main.bundle.js: the agent command and every module it imports,
 * in one file with comments and whitespace removed (issue 11: ≤ 60 MB RSS
 * idle). V8 keeps the source text of every loaded module in the heap; one
 * compact file instead of ~250 modules saves ~2 MB of the agent's memory.
 * Names are not mangled, so stack traces stay readable (and a linked source
 * map points back at dist/). Run after tsc; `outpost agent` loads the bundle
 * when it exists (cli/main.ts).
 *
 * Left out, loaded from node_modules:
 * - commander: cli/main.ts has loaded it already; one copy, not two;
 * - dockerode: agent/runtime/dockerode-lean.ts defers parts of it through the
 *   CommonJS module cache, which needs the real package;
 * - ws and socks: mqtt requires them only for ws:// URLs and SOCKS proxies
 *   (when called);
 * - yaml: only `--config` and `agent install` load it (dynamic imports), and a
 *   bundled copy would be source text the agent keeps in memory for nothing.
 * cron-parser is required lazily (shared/maintenance-window.ts) and not seen.
 */
export const AGENT_BUNDLE_EXTERNAL: readonly string[] = ['commander', 'dockerode', 'ws', 'socks', 'yaml'];

/** What both agent bundles share: one minified ES module for Node 20, with a source map. */
const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
} as const satisfies BuildOptions;

/**
 * zod re-exports all of its ~50 message locales (`z.locales`); Outpost uses the
 * English one zod registers by itself. In the agent bundles that namespace
 * holds `en` only: ~0.5 MB less source text the agent keeps in memory.
 */
function englishOnlyZod(): Plugin {
  return {
    name: 'outpost-zod-en',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir) ? { path: join(args.resolveDir, '..', 'locales', 'en.js'), namespace: 'outpost-zod-en' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'outpost-zod-en' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, loader: 'js', resolveDir: dirname(args.path) }));
    },
  };
}

/**
 * mqtt requires worker-timers (with @babel/runtime and a worker's source) for
 * browsers, whose background tabs throttle timers; on Node it uses the native
 * ones. In the agent bundles worker-timers is Node's own timers.
 */
function nativeWorkerTimers(): Plugin {
  return {
    name: 'outpost-native-timers',
    setup(b) {
      b.onResolve({ filter: /^worker-timers$/ }, () => ({ path: 'worker-timers', namespace: 'outpost-native-timers' }));
      b.onLoad({ filter: /.*/, namespace: 'outpost-native-timers' }, () => ({
        contents: 'exports.setInterval = (fn, ms) => setInterval(fn, ms); exports.clearInterval = (id) => clearInterval(id); exports.setTimeout = (fn, ms) => setTimeout(fn, ms); exports.clearTimeout = (id) => clearTimeout(id);',
        loader: 'js',
      }));
    },
  };
}

/**
 * mqtt-packet's parser uses bl only as a BufferList (append, readUInt*,
 * slice, consume), never as a stream; bl's stream side would bring a second
 * copy of readable-stream. In the agent bundles `bl` is its BufferList.
 */
function bufferListOnly(): Plugin {
  return {
    name: 'outpost-bufferlist',
    setup(b) {
      b.onResolve({ filter: /^bl$/ }, (args) =>
        /[\\/]mqtt-packet$/.test(args.resolveDir) ? { path: join(args.resolveDir, 'bl-buffer-list'), namespace: 'outpost-bufferlist', pluginData: args.resolveDir } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'outpost-bufferlist' }, (args) => ({
        contents: "module.exports = require('bl/BufferList.js');",
        loader: 'js',
        resolveDir: args.pluginData as string,
      }));
    },
  };
}

/** CommonJS dependencies call require(); an ES module has none of its own. */
const REQUIRE_SHIM = "import { createRequire as __outpostCreateRequire } from 'node:module'; const require = __outpostCreateRequire(import.meta.url);";

export async function bundleAgent(distDir: string): Promise<void> {
  await build({
    ...NODE_BUNDLE,
    entryPoints: [join(distDir, 'agent', 'main.js')],
    outfile: join(distDir, 'agent', 'main.bundle.js'),
    external: [...AGENT_BUNDLE_EXTERNAL],
    plugins: [englishOnlyZod(), nativeWorkerTimers(), bufferListOnly()],
    banner: { js: REQUIRE_SHIM },
  });
}

/**
 * Left out of the standalone agent: what only ssh:// Docker hosts and BuildKit
 * sessions use (the agent talks to Docker over its socket; those entry points
 * are stubs there, standalonePlugin), and ws's optional native speed-ups. ws
 * and socks stay in: mqtt requires ws when it loads its protocol table.
 */
export const STANDALONE_EXTERNAL: readonly string[] = ['ssh2', 'cpu-features', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'bufferutil', 'utf-8-validate', '*.node'];

const UNSUPPORTED_STUB = "module.exports = function unsupported() { throw new Error('not in the standalone agent: ssh:// Docker hosts and BuildKit sessions need the npm package'); };";

/** Swaps what needs node_modules on disk for what works inside one file. */
function standalonePlugin(): Plugin {
  return {
    name: 'outpost-standalone',
    setup(b) {
      b.onResolve({ filter: /^\.\/dockerode-lean\.js$/ }, (args) => ({ path: join(args.resolveDir, 'dockerode-bundled.js') }));
      b.onResolve({ filter: /^\.\/(ssh|session)$/ }, (args) =>
        /[\\/](docker-modem|dockerode)[\\/]lib$/.test(args.resolveDir) ? { path: args.path, namespace: 'outpost-unsupported' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'outpost-unsupported' }, () => ({ contents: UNSUPPORTED_STUB, loader: 'js' }));
      // cron-parser is required lazily through a createRequire of its own (shared/maintenance-window.ts), which
      // esbuild does not follow; with the module's own require, esbuild bundles it and still loads it on first use.
      b.onLoad({ filter: /[\\/]shared[\\/]maintenance-window\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const local = 'const require = createRequire(import.meta.url);';
        if (!source.includes(local)) throw new Error(`${args.path}: expected "${local}" (scripts/bundle-agent.ts)`);
        return { contents: source.replace(local, ''), loader: 'js' };
      });
    },
  };
}

/**
 * dist/outpost-agent/outpost-agent.js (DD-043): the agent with every
 * dependency in one file, for devices without npm: `node outpost-agent.js agent ...`.
 */
export async function bundleStandaloneAgent(distDir: string): Promise<void> {
  await build({
    ...NODE_BUNDLE,
    entryPoints: [join(distDir, 'agent', 'standalone.js')],
    outfile: join(distDir, 'outpost-agent', 'outpost-agent.js'),
    external: [...STANDALONE_EXTERNAL],
    plugins: [standalonePlugin(), englishOnlyZod(), nativeWorkerTimers(), bufferListOnly()],
    banner: { js: `#!/usr/bin/env node\n${REQUIRE_SHIM}` },
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const distDir = dirname(dirname(fileURLToPath(import.meta.url)));
  await bundleAgent(distDir);
  await bundleStandaloneAgent(distDir);
}
