import { defineConfig } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The config is evaluated by the runner and again by every worker; the runner picks the port and
// the data directory once and the workers inherit them through the environment.
function freePort(): string {
  const probe =
    "const s=require('net').createServer();" +
    "s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return execFileSync(process.execPath, ['-e', probe]).toString().trim();
}
process.env.SEALBOX_E2E_PORT ??= freePort();
process.env.SEALBOX_E2E_DATA_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-e2e-'));
process.env.SEALBOX_E2E_MASTER_KEY ??= randomBytes(32).toString('base64');
// The owner the tests sign in as, created with the admin command before the server starts.
process.env.E2E_OWNER_EMAIL ??= 'owner@example.com';
process.env.E2E_OWNER_PASSWORD ??= `e2e-${randomBytes(12).toString('hex')}`;

const repo = path.resolve(__dirname, '..');
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target');
const binary = process.env.SEALBOX_BIN ?? path.join(targetDir, 'release', 'sealbox');
const port = process.env.SEALBOX_E2E_PORT;
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: true,
  // No retries: a flaky test is a bug to fix.
  retries: 0,
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL,
    browserName: 'chromium',
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work on these machines.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command:
      `printf '%s\\n' "$E2E_OWNER_PASSWORD" | "${binary}" admin create-user ` +
      `--email "$E2E_OWNER_EMAIL" --role owner --password-stdin && exec "${binary}" serve`,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      SEALBOX_ADDR: `127.0.0.1:${port}`,
      SEALBOX_DATA_DIR: process.env.SEALBOX_E2E_DATA_DIR,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? path.join(repo, 'target', 'site'),
      SEALBOX_LOG: 'warn',
      SEALBOX_MASTER_KEY: process.env.SEALBOX_E2E_MASTER_KEY,
      E2E_OWNER_EMAIL: process.env.E2E_OWNER_EMAIL,
      E2E_OWNER_PASSWORD: process.env.E2E_OWNER_PASSWORD,
    },
  },
});
