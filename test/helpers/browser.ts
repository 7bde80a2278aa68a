import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { makeTempDir } from './temp-dir.js';

/** Debian's chromium (scripts/bootstrap-debian.sh installs it); playwright-core brings no browser of its own. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, offline-friendly: no GPU, no QUIC, nothing that phones home or updates itself. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go (git-ignored); CI keeps the directory as an artefact. */
export const ARTIFACTS_DIR = join(process.cwd(), 'test-artifacts');

export interface TestBrowser {
  readonly context: BrowserContext;
  /** A new tab; every uncaught page error and console error is recorded in `problems`. */
  newPage(): Promise<Page>;
  /** Page errors and console errors seen so far (a CSP violation is one). */
  readonly problems: string[];
  /** Saves a full-page screenshot as test-artifacts/<dir>/<name>.png and returns its path. */
  screenshot(page: Page, dir: string, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Real headless Chromium with a fresh profile (--user-data-dir in a temp
 * directory, removed on close): no cookies or storage leak between tests.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await makeTempDir('chromium');
  const problems: string[] = [];
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile.path, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 900 },
    });
  } catch (err) {
    await profile.remove();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    problems,
    async newPage() {
      const page = await context.newPage();
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
      });
      return page;
    },
    async screenshot(page, dir, name) {
      const out = join(ARTIFACTS_DIR, dir);
      await mkdir(out, { recursive: true });
      const path = join(out, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    close() {
      closing ??= context.close().finally(() => profile.remove());
      return closing;
    },
  };
}
