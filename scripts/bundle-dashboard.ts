import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * dist/dashboard: the web dashboard the controller serves at /ui/ (DD-042).
 * dashboard/src/*.ts bundled by esbuild into one app.js (no framework, no
 * runtime dependency), beside index.html and style.css copied as they are.
 * Run after tsc, from dist/scripts; the sources are at the repository root.
 */
export async function bundleDashboard(distDir: string): Promise<void> {
  const source = join(dirname(distDir), 'dashboard');
  const out = join(distDir, 'dashboard');
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [join(source, 'src', 'main.ts')],
    outfile: join(out, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'style.css']) await copyFile(join(source, file), join(out, file));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await bundleDashboard(dirname(dirname(fileURLToPath(import.meta.url))));
}
