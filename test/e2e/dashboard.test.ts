import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRollout } from '../../cli/client/rollout-client.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { dumpOnFailure } from '../helpers/dump-on-failure.js';
import { deployFirstRelease, startFleetRig, type FleetRig } from '../helpers/fleet-rig.js';
import { TEST_IMAGE, TEST_IMAGE_2 } from '../helpers/images.js';

const SHOTS = 'dashboard';
const UI_TIMEOUT_MS = 60_000;

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

/** Waits until the element's text is exactly `text` (the page redraws it by itself; no reload). */
async function waitForText(page: Page, selector: string, text: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  const exact = new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  await page.locator(selector).filter({ hasText: exact }).first().waitFor({ timeout: timeoutMs });
}

/**
 * Test 1 of issue 12: the dashboard in a real headless Chromium against a
 * controller with real agents (real Docker). Log in with a token, filter the
 * fleet by a label, open a device, see a deploy made through the API reach
 * it live (server-sent events, no reload), restart a workload and see the
 * command's answer, and pause, resume and advance a rollout. Screenshots go
 * to test-artifacts/dashboard/.
 */
describe('web dashboard end to end', () => {
  let ctx: FleetRig;
  let browser: TestBrowser;
  let page: Page;
  const role = `ui-${Math.random().toString(36).slice(2, 7)}`;
  dumpOnFailure(() => ({ ...(ctx?.fleet.outputs() ?? {}), browser: browser?.problems.join('\n') ?? '' }));

  beforeAll(async () => {
    // A telemetry sample every 2 s, so the device page's chart has points to draw.
    ctx = await startFleetRig({ prefix: 'ui', count: 3, labels: (i) => ({ role, ring: i === 0 ? 'canary' : 'main' }), agentArgs: () => ['--telemetry-interval', '2'] });
    await deployFirstRelease(ctx.fleet, { app: 'web', workload: 'main', role });
    browser = await launchBrowser();
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await ctx?.close();
  });

  it('logs in with a token, filters the fleet by a label, and opens a device', async () => {
    await page.goto(`${ctx.url}/ui/`);
    await page.locator('#token').fill('not-the-token');
    await page.locator('#login').click();
    await page.locator('.login-message', { hasText: 'not valid' }).waitFor();
    // That 401 is logged by Chromium as a console error, expected here; from now on there must be none.
    browser.problems.length = 0;
    await page.locator('#token').fill(ctx.rig.adminToken);
    await page.locator('#login').click();

    await page.waitForSelector('#fleet-table table.devices');
    await waitForText(page, '#live', 'live');
    for (const id of ctx.fleet.ids) await page.waitForSelector(`a.device-link:text-is("${id}")`);
    expect(await page.locator('#fleet-table tbody tr').count()).toBe(3);
    expect(await textOf(page, '#fleet-summary')).toContain('Devices');
    // The token is in the tab's sessionStorage, never in the URL.
    expect(page.url()).not.toContain(ctx.rig.adminToken);
    await browser.screenshot(page, SHOTS, '1-fleet');

    await page.locator('#selector').fill('ring=canary');
    await page.locator('#filter-form button[type=submit]').click();
    const [canary] = ctx.fleet.ids;
    // (No waitForFunction: it evaluates a string in the page, which the dashboard's CSP forbids.)
    await page.locator('#fleet-table tbody tr').nth(1).waitFor({ state: 'detached' });
    await page.locator('#fleet-table tbody tr', { hasText: canary }).waitFor();
    expect(await page.locator('#fleet-table tbody tr').count()).toBe(1);
    expect(page.url()).toContain('selector=ring%3Dcanary');
    expect(await textOf(page, '#fleet-count')).toBe('1 of 3 devices match ring=canary');
    await browser.screenshot(page, SHOTS, '2-fleet-filtered');

    await page.locator(`a.device-link:text-is("${canary}")`).click();
    await page.waitForSelector('#device-workloads table.workloads');
    await waitForText(page, '#applied-version', '1');
    expect(await textOf(page, '#device-meta')).toContain(`role=${role}`);
    expect(await textOf(page, '#device-workloads')).toContain(TEST_IMAGE);
    expect(await textOf(page, '#device-events')).toMatch(/desired\.received|converged|applied/);
  });

  it('shows a deploy reach the open device live, without a reload', async () => {
    const [canary] = ctx.fleet.ids;
    await page.evaluate(() => {
      (globalThis as Record<string, unknown>).notReloaded = true;
    });
    await ctx.fleet.client.createDeployment({ app: 'web', version: '2', target: { kind: 'devices', devices: [canary!] } });
    await waitForText(page, '#desired-version', '2');
    await waitForText(page, '#applied-version', '2');
    await page.locator('#device-workloads', { hasText: TEST_IMAGE_2 }).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.evaluate(() => (globalThis as Record<string, unknown>).notReloaded)).toBe(true);
    // Telemetry samples arrive over the same stream: the chart gains points without a reload.
    await page.locator('#device-telemetry svg.chart polyline.mem').waitFor();
    await page.locator('#device-telemetry .legend', { hasText: /[2-9]\d* since the page opened|\d{2,} since the page opened/ }).waitFor({ timeout: UI_TIMEOUT_MS });
    await browser.screenshot(page, SHOTS, '3-device-live-deploy');
  });

  it('restarts a workload from its button and shows the command result; Logs shows its log lines', async () => {
    const restart = page.locator('#device-workloads button[data-action=restart]').first();
    const workload = await restart.getAttribute('data-workload');
    expect(workload).toBe('web-main');
    await restart.click();
    await waitForText(page, '#command-status', 'done');
    const result = await textOf(page, '#command-result');
    expect(result).toContain('restart web-main');
    expect(result).toContain('ok');
    expect(result).toContain('containerId');
    await browser.screenshot(page, SHOTS, '4-device-restart');

    await page.locator('#device-workloads button[data-action=logs][data-workload=web-main]').click();
    await page.locator('#command-result h2', { hasText: 'logs web-main' }).waitFor();
    await waitForText(page, '#command-status', 'done');
    await page.locator('#command-result pre.logs').waitFor();
  });

  it('lists deployments with the devices each targets, applies to, is shadowed on and runs on', async () => {
    await page.locator('nav a[data-nav=deployments]').click();
    await page.waitForSelector('#deployments table.deployments');
    const rows = page.locator('#deployments tbody tr');
    expect(await rows.count()).toBe(2);
    // Newest first: web@2 to the canary wins there over web@1 to role=…, which still runs on the other two.
    const cells = async (i: number): Promise<string[]> => (await rows.nth(i).locator('td').allTextContents()).map((t) => t.trim());
    expect((await cells(0)).slice(1)).toEqual(['web@2', '1 device', '0', '1', '1', '0', '1']);
    expect((await cells(1)).slice(1)).toEqual(['web@1', `role=${role}`, '0', '3', '2', '1', '2']);
    expect(await textOf(page, '#releases')).toContain('web@2');
    await browser.screenshot(page, SHOTS, '5-deployments');
  });

  it('pauses and resumes a rollout from its page, then watches its waves pass live', async () => {
    await ctx.fleet.client.createRelease({ app: 'web', version: '3', workloads: { main: { image: TEST_IMAGE, stopTimeoutSeconds: 1 } } });
    const id = `web-3-${role}`;
    // Scheduled an hour ahead, so it waits for the buttons; Advance starts it.
    const startAt = new Date(Date.now() + 3_600_000).toISOString();
    await createRollout(ctx.fleet.client, { id, app: 'web', toVersion: '3', target: { kind: 'selector', selector: `role=${role}` }, waves: { kind: 'sizes', sizes: [1, '100%'] }, startAt });

    await page.locator('nav a[data-nav=rollouts]').click();
    await page.waitForSelector(`#rollouts a:text-is("${id}")`);
    await page.locator(`#rollouts a:text-is("${id}")`).click();
    await waitForText(page, '#rollout-phase', 'scheduled');

    await page.locator('#rollout-actions button[data-action=pause]').click();
    await waitForText(page, '#rollout-phase', 'paused');
    expect((await ctx.fleet.rollout(id)).phase).toBe('paused');
    await browser.screenshot(page, SHOTS, '6-rollout-paused');

    await page.locator('#rollout-actions button[data-action=resume]').click();
    await waitForText(page, '#rollout-phase', 'scheduled');
    expect((await ctx.fleet.rollout(id)).phase).toBe('scheduled');

    // From here on the page only learns of progress through the change stream.
    await page.locator('#rollout-actions button[data-action=advance]').click();
    await waitForText(page, '#rollout-phase', 'succeeded', 120_000);
    const waves = await textOf(page, '#rollout-waves');
    expect(waves.match(/passed/g)?.length).toBe(2);
    const done = await ctx.fleet.rollout(id);
    expect(done.devices.map((d) => d.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    await browser.screenshot(page, SHOTS, '7-rollout-succeeded');
  });

  it('had no page error and no console error (e.g. a content-security-policy violation)', () => {
    expect(browser.problems).toEqual([]);
  });
});
