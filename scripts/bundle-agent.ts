import { build } from 'esbuild';
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
 *   (when called).
 * cron-parser is required lazily (shared/maintenance-window.ts) and not seen.
 */
export const AGENT_BUNDLE_EXTERNAL: readonly string[] = ['commander', 'dockerode', 'ws', 'socks'];

export async function bundleAgent(distDir: string): Promise<void> {
  await build({
    entryPoints: [join(distDir, 'agent', 'main.js')],
    outfile: join(distDir, 'agent', 'main.bundle.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    external: [...AGENT_BUNDLE_EXTERNAL],
    // CommonJS dependencies call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as __outpostCreateRequire } from 'node:module'; const require = __outpostCreateRequire(import.meta.url);" },
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleAgent(dirname(dirname(fileURLToPath(import.meta.url))));
}
