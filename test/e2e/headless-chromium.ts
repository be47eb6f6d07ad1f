// Debian's headless Chromium for the dashboard's browser tests, driven by playwright-core: one browser
// per test file, with a fresh profile each run (nothing an earlier run cached, an old bundle say, is used).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts the browser before the file's tests and closes it after; `get()` is it. */
export function headlessChromium(): { get(): BrowserContext } {
  let profileDir = '';
  let browser: BrowserContext | undefined;
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does so for CI)`);
    }
    profileDir = mkdtempSync(join(tmpdir(), 'felix-dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(profileDir, { recursive: true, force: true });
  });
  return {
    get() {
      if (browser === undefined) throw new Error('the browser is not started yet');
      return browser;
    },
  };
}
