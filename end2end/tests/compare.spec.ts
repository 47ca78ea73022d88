import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { test } from './fixtures';
import { hydrated, newProject, ownerEmail, ownerPassword, signIn } from './helpers';

async function axeClean(page: Page) {
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => ['serious', 'critical'].includes(v.impact ?? ''))).toEqual([]);
}

/** A token for `environment` of the project at `path`, made in the Tokens tab (JavaScript on). */
async function tokenFor(page: Page, path: string, environment: string): Promise<string> {
  await page.goto(`${path}/tokens`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.getByLabel('Name').fill(`ci-${environment}`);
  await dialog.getByLabel('Environment').selectOption(environment);
  await dialog.getByRole('button', { name: 'Create token' }).click();
  return (await page.getByTestId('new-token').textContent()) ?? '';
}

/** The grid's cell for `key` in the column of `environment`. */
function cell(page: Page, key: string, column: number) {
  return page.locator('table.compare-table tbody tr').filter({ hasText: key }).locator('td').nth(column);
}

async function checkTokens(page: Page, path: string, key: string, value: string) {
  const slug = path.split('/').pop() ?? '';
  const production = await tokenFor(page, path, 'production');
  const development = await tokenFor(page, path, 'development');
  const read = (route: string, token: string) =>
    page.request.get(`/api/v1/projects/${slug}${route}`, { headers: { authorization: `Bearer ${token}` } });
  const copied = await read(`/secrets/${key}`, production);
  expect(copied.status()).toBe(200);
  expect((await copied.json()).value).toBe(value);
  const refused = await read(`/environments/production/secrets/${key}`, development);
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error).toBe('wrong_environment');
}

test('set in development only → Compare shows it missing → copy to production → production’s token reads it, development’s gets 403', async ({
  page,
}) => {
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Compare');
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const add = page.getByRole('dialog', { name: 'Add Secret' });
  await add.getByLabel('Secret Key').fill('WEBHOOK_URL');
  await add.getByLabel('Secret Value', { exact: true }).fill('https://hooks.example.com/dev-only');
  await add.getByRole('button', { name: 'Create Secret' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'WEBHOOK_URL' })).toBeVisible();

  await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Compare' }).click();
  await expect(page).toHaveURL(`${path}/compare`);
  await hydrated(page);
  await expect(page.locator('table.compare-table thead th')).toHaveText(['Key', 'development', 'staging', 'production']);
  await expect(cell(page, 'WEBHOOK_URL', 0)).toContainText('Set');
  await expect(cell(page, 'WEBHOOK_URL', 1)).toContainText('Missing');
  await expect(cell(page, 'WEBHOOK_URL', 2)).toContainText('Missing');
  await axeClean(page);

  await page.getByRole('button', { name: 'Copy WEBHOOK_URL from development to production' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'WEBHOOK_URL copied to production' })).toHaveCount(1);
  await expect(cell(page, 'WEBHOOK_URL', 2)).toContainText('Set');
  await expect(cell(page, 'WEBHOOK_URL', 2)).toContainText('Same value as development');
  await expect(cell(page, 'WEBHOOK_URL', 1)).toContainText('Missing');
  await checkTokens(page, path, 'WEBHOOK_URL', 'https://hooks.example.com/dev-only');

  // A secret's Copy button: the Compare tab asks where to; replacing needs the box ticked.
  await page.goto(`${path}/development`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Copy WEBHOOK_URL to another environment' }).click();
  await expect(page).toHaveURL(`${path}/compare?from=development&copy=WEBHOOK_URL`);
  await hydrated(page);
  const copy = page.locator('section.copy-form');
  await expect(copy.getByRole('heading')).toHaveText('Copy WEBHOOK_URL from development');
  await copy.getByLabel('Copy to').selectOption('production');
  await copy.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(page.locator('#copy-replace-error')).toContainText('production already has WEBHOOK_URL (version 1)');
  await copy.getByLabel('Copy to').selectOption('staging');
  await copy.getByRole('button', { name: 'Copy', exact: true }).click();
  await expect(cell(page, 'WEBHOOK_URL', 1)).toContainText('Same value as development');
  await axeClean(page);
});

test('Promote variables: the difference, ticked changes applied to the target', async ({ page }) => {
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Promote');
  for (const [environment, key, value] of [
    ['development', 'LOG_LEVEL', 'debug'],
    ['development', 'FEATURE_X', 'on'],
    ['staging', 'LOG_LEVEL', 'info'],
    ['staging', 'LEGACY', 'yes'],
  ]) {
    await page.goto(`${path}/${environment}/variables`);
    await hydrated(page);
    await page.getByRole('link', { name: 'Add Variable' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Variable' });
    await dialog.getByLabel('Variable Key').fill(key);
    await dialog.getByLabel('Value').fill(value);
    await dialog.getByRole('button', { name: 'Create Variable' }).click();
    await expect(dialog).toBeHidden();
  }
  await page.goto(`${path}/development/variables`);
  await hydrated(page);
  await page.getByRole('link', { name: 'Promote…' }).click();
  await expect(page).toHaveURL(`${path}/promote?from=development`);
  await hydrated(page);
  const rows = page.locator('table.promote-table tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.filter({ hasText: 'LOG_LEVEL' })).toContainText('Changed');
  await expect(rows.filter({ hasText: 'LOG_LEVEL' })).toContainText('info → debug');
  await expect(page.getByLabel('Apply Removed LEGACY')).not.toBeChecked();
  await axeClean(page);
  await page.getByLabel('Apply Added FEATURE_X').uncheck();
  await page.getByRole('button', { name: 'Apply the ticked changes to staging' }).click();
  await expect(page.getByRole('status').filter({ hasText: '1 variable change(s) promoted' })).toHaveCount(1);
  await expect(rows).toHaveCount(2);
  await page.goto(`${path}/staging/variables`);
  await expect(page.getByRole('row').filter({ hasText: 'LOG_LEVEL' })).toContainText('debug');
  await expect(page.getByRole('row').filter({ hasText: 'FEATURE_X' })).toHaveCount(0);
});

test('team secrets for one environment name: the switcher, and the badge in a project', async ({ page }) => {
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Team envs');
  // A name of this test's own: team secrets reach every project's environments of that name,
  // and other tests run alongside.
  const name = `eu-${Date.now().toString(36)}`;
  await page.goto(`${path}/settings`);
  await hydrated(page);
  await page.getByLabel('New environment').fill(name);
  await page.getByRole('button', { name: 'Add environment' }).click();
  await expect(page.locator('table.environments-table tbody code')).toContainText([name]);

  await page.goto(`/settings/team-secrets/${name}`);
  await hydrated(page);
  const switcher = page.getByRole('navigation', { name: 'Environment' });
  await expect(switcher.getByRole('link', { name: 'All environments' })).toBeVisible();
  await expect(switcher.getByRole('link', { name, exact: true })).toHaveAttribute('aria-current', 'page');
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const add = page.getByRole('dialog', { name: 'Add team secret' });
  await add.getByLabel('Secret Key').fill('REGION_TOKEN');
  await add.getByLabel('Secret Value', { exact: true }).fill('team-region-value');
  await add.getByRole('button', { name: 'Create Secret' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'REGION_TOKEN' })).toBeVisible();
  await axeClean(page);
  await page.goto(`${path}/${name}`);
  await expect(page.getByRole('row').filter({ hasText: 'REGION_TOKEN' })).toContainText(`Team · ${name}`);
  await page.goto(`${path}/staging`);
  await expect(page.getByRole('row').filter({ hasText: 'REGION_TOKEN' })).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('Compare, copy from a cell and promote are plain forms', async ({ browser }) => {
    const setup = await (await browser.newContext({ javaScriptEnabled: true })).newPage();
    await signIn(setup, ownerEmail, ownerPassword);
    const path = await newProject(setup, 'Plain compare');

    const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await signIn(page, ownerEmail, ownerPassword, false);
    await page.goto(path);
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    const add = page.locator('dialog#add-secret');
    await add.getByLabel('Secret Key').fill('PLAIN_KEY');
    await add.getByLabel('Secret Value', { exact: true }).fill('plain-dev-value');
    await add.getByRole('button', { name: 'Create Secret' }).click();
    await page.goto(`${path}/compare`);
    await expect(cell(page, 'PLAIN_KEY', 2)).toContainText('Missing');
    await page.getByRole('button', { name: 'Copy PLAIN_KEY from development to production' }).click();
    await expect(page).toHaveURL(`${path}/compare`);
    await expect(cell(page, 'PLAIN_KEY', 2)).toContainText('Same value as development');
    await checkTokens(setup, path, 'PLAIN_KEY', 'plain-dev-value');

    await page.goto(`${path}/development/variables`);
    await page.getByRole('link', { name: 'Add Variable' }).click();
    const dialog = page.locator('dialog#add-variable');
    await dialog.getByLabel('Variable Key').fill('LISTEN_ON');
    await dialog.getByLabel('Value').fill('8080');
    await dialog.getByRole('button', { name: 'Create Variable' }).click();
    await page.goto(`${path}/promote?from=development&to=production`);
    await page.getByRole('button', { name: 'Apply the ticked changes to production' }).click();
    await page.goto(`${path}/production/variables`);
    await expect(page.getByRole('row').filter({ hasText: 'LISTEN_ON' })).toContainText('8080');
  });
});
