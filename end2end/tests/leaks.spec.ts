import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { test } from './fixtures';
import { hydrated, newProject, ownerEmail, ownerPassword, signIn } from './helpers';

async function addSecret(page: Page, key: string, value: string) {
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Add Secret' });
  await dialog.getByLabel('Secret Key').fill(key);
  await dialog.getByLabel('Secret Value', { exact: true }).fill(value);
  await dialog.getByRole('button', { name: 'Create Secret' }).click();
  await expect(page.getByRole('row').filter({ hasText: key })).toBeVisible();
}

function unique(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

test('leak check: a pasted value is found in its project and environment, a near miss is not, and the value never comes back', async ({
  page,
}) => {
  const leaked = unique('leaked');
  const bodies: Promise<string>[] = [];
  page.on('response', (response) => {
    // Redirects and aborted requests have no body.
    bodies.push(response.text().catch(() => ''));
  });
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Leaky');
  await addSecret(page, 'LEAKED_TOKEN', leaked);

  await page.goto('/settings');
  await page.getByRole('link', { name: 'Leak check' }).click();
  await expect(page).toHaveURL(/\/settings\/leak-check$/);
  await hydrated(page);
  await page.getByLabel('Value to check').fill(leaked);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'holds this value' })).toHaveText(
    '1 secret version holds this value. Rotate it where it is current.',
  );
  const row = page.locator('table.leak-table tbody tr');
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(`${path.split('/').pop()} · development`);
  await expect(row).toContainText('LEAKED_TOKEN');
  await expect(row).toContainText('Current');
  await expect(row).toContainText('Not read since');
  await expect(row.getByRole('link', { name: 'LEAKED_TOKEN' })).toHaveAttribute(
    'href',
    `${path}/development/history/LEAKED_TOKEN`,
  );
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => ['serious', 'critical'].includes(v.impact ?? ''))).toEqual([]);

  await page.getByLabel('Value to check').fill(`${leaked}x`);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'No secret' })).toHaveText('No secret holds this value.');
  expect(page.url()).not.toContain(leaked);
  // Only the request that created the secret carried it; no answer did.
  const seen = await Promise.all(bodies);
  expect(seen.length).toBeGreaterThan(5);
  expect(seen.filter((body) => body.includes(leaked))).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('leak check works as a plain form; the answer is shown once and the value is not in the page', async ({
    browser,
  }) => {
    const leaked = unique('plain-leak');
    const setup = await (await browser.newContext({ javaScriptEnabled: true })).newPage();
    await signIn(setup, ownerEmail, ownerPassword);
    await newProject(setup, 'Plain leak');
    await addSecret(setup, 'PLAIN_LEAK', leaked);

    const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await signIn(page, ownerEmail, ownerPassword, false);
    await page.goto('/settings/leak-check');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await expect(page.locator('#leak-value-error')).toHaveText('Paste the value to check');
    await page.getByLabel('Value to check').fill(leaked);
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await expect(page).toHaveURL(/\/settings\/leak-check$/);
    await expect(page.locator('table.leak-table tbody tr')).toContainText('PLAIN_LEAK');
    expect(await page.content()).not.toContain(leaked);
    await page.reload();
    await expect(page.locator('table.leak-table')).toHaveCount(0);
  });
});
