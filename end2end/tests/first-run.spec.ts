import { expect } from '@playwright/test';
import { test } from './fixtures';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// A server of its own with an empty database: the shared one already has its owner.
let server: ChildProcess | undefined;
let setupUrl = '';
let baseURL = '';

test.beforeAll(async () => {
  const repo = path.resolve(__dirname, '..', '..');
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target');
  const binary = process.env.SEALBOX_BIN ?? path.join(targetDir, 'release', 'sealbox');
  const probe =
    "const s=require('net').createServer();" +
    "s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  const port = execFileSync(process.execPath, ['-e', probe]).toString().trim();
  baseURL = `http://127.0.0.1:${port}`;
  server = spawn(binary, ['serve'], {
    env: {
      ...process.env,
      SEALBOX_ADDR: `127.0.0.1:${port}`,
      SEALBOX_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-first-run-')),
      SEALBOX_MASTER_KEY: randomBytes(32).toString('base64'),
      SEALBOX_LOG: 'warn',
      SEALBOX_LOG_FORMAT: 'text',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  setupUrl = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no set-up URL logged:\n${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = output.match(/https?:\/\/\S+\/setup\?token=[0-9a-f]+/);
      if (match) {
        clearTimeout(timer);
        resolve(match[0]);
      }
    };
    server?.stdout?.on('data', read);
    server?.stderr?.on('data', read);
  });
});

test.afterAll(() => {
  server?.kill('SIGTERM');
});

test('the set-up link from the log creates the owner, then disappears', async ({ page }) => {
  const wrong = await page.goto(`${baseURL}/setup?token=${'0'.repeat(64)}`);
  expect(wrong?.status()).toBe(200);
  // Plain HTML, like the sign-in page: the form posts without the bundle.
  await expect(page.locator('script[type="module"], link[rel="modulepreload"]')).toHaveCount(0);
  await page.getByLabel('Email').fill('first@example.com');
  await page.getByLabel('Name').fill('First Owner');
  await page.getByLabel('Password').fill('the first owner password');
  await page.getByRole('button', { name: 'Create owner' }).click();
  await expect(page.getByRole('alert')).toContainText('This set-up link is not valid');

  await page.goto(setupUrl);
  await page.getByLabel('Email').fill('first@example.com');
  await page.getByLabel('Name').fill('First Owner');
  await page.getByLabel('Password').fill('the first owner password');
  await page.getByRole('button', { name: 'Create owner' }).click();

  await expect(page).toHaveURL(`${baseURL}/`);
  await expect(page.getByRole('navigation', { name: 'Main' }).getByText('first@example.com')).toBeVisible();
  const gone = await page.goto(setupUrl);
  expect(gone?.status()).toBe(404);
});
