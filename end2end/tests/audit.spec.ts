import { expect } from '@playwright/test';
import { test } from './fixtures';
import fs from 'node:fs';
import { expectNoOwnSecrets, hydrated, ownerEmail, ownerPassword, signIn, uniqueEmail } from './helpers';

test('an admin filters the audit log by key and action and exports it as CSV; a member is refused', async ({
  page,
  browser,
}) => {
  const key = `AUDITED_${Date.now().toString(36).toUpperCase()}`;
  await signIn(page, ownerEmail, ownerPassword);
  await page.goto('/projects?dialog=new-project');
  await hydrated(page);
  await page.getByLabel('Project name').fill(`Audit ${key}`);
  await page.getByRole('button', { name: 'Create project' }).click();
  await expectNoOwnSecrets(page);
  await hydrated(page);
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Secret Key').fill(key);
  await dialog.getByLabel('Secret Value', { exact: true }).fill('audited-value-never-shown');
  await dialog.getByRole('button', { name: 'Create Secret' }).click();
  await expect(page.getByRole('row').filter({ hasText: key })).toBeVisible();

  await page.goto('/settings');
  await page.getByRole('link', { name: 'Audit' }).click();
  await expect(page.getByRole('heading', { name: 'Audit', level: 1 })).toBeVisible();
  await page.getByLabel('Key').fill(key);
  await page.getByLabel('Action').fill('secret.created');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(new RegExp(`key=${key}`));
  await expect(page).toHaveURL(/action=secret.created/);
  const rows = page.getByRole('row');
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(1)).toContainText(ownerEmail);
  await expect(rows.nth(1)).toContainText('secret.created');
  await expect(rows.nth(1)).toContainText('version 1');

  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export CSV' }).click();
  const csv = fs.readFileSync(await (await download).path(), 'utf8');
  const lines = csv.trim().split('\r\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toContain(`,${key},1,`);
  expect(csv).not.toContain('audited-value-never-shown');

  const member = { email: uniqueEmail('auditmember'), password: 'member password 1234' };
  const added = await page.request.post('/rpc/add_member', {
    form: { email: member.email, name: '', role: 'member', password: member.password },
  });
  expect(added.status()).toBe(200);
  const memberPage = await (await browser.newContext()).newPage();
  await signIn(memberPage, member.email, member.password);
  const refused = await memberPage.goto('/settings/audit');
  expect(refused?.status()).toBe(403);
  await expect(memberPage.getByRole('heading', { name: 'Not allowed' })).toBeVisible();
});
