import AxeBuilder from '@axe-core/playwright';
import { expect } from '@playwright/test';
import { test } from './fixtures';
import { expectNoOwnSecrets, hydrated, newProject, ownerEmail, ownerPassword, signIn } from './helpers';

test('a new project has three environments; a secret set in development stays there, and tokens read their own', async ({
  page,
}) => {
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Envs');
  const slug = path.split('/').pop() ?? '';
  const switcher = page.getByRole('navigation', { name: 'Environment' });
  await expect(switcher.getByRole('link')).toHaveText(['development', 'staging', 'production']);
  await expect(switcher.getByRole('link', { name: 'development' })).toHaveAttribute('aria-current', 'page');

  // Set a key in development only.
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const add = page.getByRole('dialog', { name: 'Add Secret' });
  await add.getByLabel('Secret Key').fill('ONLY_IN_DEV');
  await add.getByLabel('Secret Value', { exact: true }).fill('development-value');
  await add.getByRole('button', { name: 'Create Secret' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'ONLY_IN_DEV' })).toBeVisible();

  // Production shows nothing; the URL names it, and the tabs stay in it.
  await switcher.getByRole('link', { name: 'production' }).click();
  await expect(page).toHaveURL(`${path}/production`);
  await expectNoOwnSecrets(page);
  await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Variables' }).click();
  await expect(page).toHaveURL(`${path}/production/variables`);
  await expect(
    page.getByRole('navigation', { name: 'Environment' }).getByRole('link', { name: 'production' }),
  ).toHaveAttribute('aria-current', 'page');

  // A token for production (chosen in the dialog), and one for development (the default).
  const tokens: Record<string, string> = {};
  for (const environment of ['production', 'development']) {
    await page.goto(`${path}/tokens`);
    await hydrated(page);
    await page.getByRole('link', { name: 'Create token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create token' });
    await expect(dialog.getByLabel('Environment')).toHaveValue('development');
    await dialog.getByLabel('Name').fill(`ci-${environment}`);
    await dialog.getByLabel('Environment').selectOption(environment);
    await dialog.getByRole('button', { name: 'Create token' }).click();
    tokens[environment] = (await page.getByTestId('new-token').textContent()) ?? '';
    await expect(page.getByRole('row').filter({ hasText: `ci-${environment}` })).toContainText(environment);
  }
  const read = (route: string, token: string) =>
    page.request.get(`/api/v1/projects/${slug}${route}`, { headers: { authorization: `Bearer ${token}` } });
  expect(await (await read('/env', tokens.development)).json()).toEqual({ ONLY_IN_DEV: 'development-value' });
  expect(await (await read('/env', tokens.production)).json()).toEqual({});
  const refused = await read('/environments/production/env', tokens.development);
  expect(refused.status()).toBe(403);
  expect((await refused.json()).error).toBe('wrong_environment');
});

test('Settings → Environments: add, rename, reorder and delete after typing the name', async ({ page }) => {
  await signIn(page, ownerEmail, ownerPassword);
  const path = await newProject(page, 'Env settings');
  await page.goto(`${path}/settings`);
  await hydrated(page);
  const table = page.locator('table.environments-table');
  await page.getByLabel('New environment').fill('QA');
  await page.getByRole('button', { name: 'Add environment' }).click();
  await expect(page.locator('#environment-name-error')).toHaveText(
    'Environment names use lowercase letters, digits and single hyphens, like staging-eu',
  );
  await page.getByLabel('New environment').fill('qa');
  await page.getByRole('button', { name: 'Add environment' }).click();
  await expect(table.locator('tbody tr')).toHaveCount(4);

  await page.getByLabel('New name for staging').fill('stage');
  await table.getByRole('row').filter({ has: page.getByLabel('New name for staging') }).getByRole('button', { name: 'Rename' }).click();
  await expect(table.locator('tbody code')).toHaveText(['development', 'stage', 'production', 'qa']);
  await page.getByRole('button', { name: 'Move qa earlier' }).click();
  await expect(table.locator('tbody code')).toHaveText(['development', 'stage', 'qa', 'production']);

  await page.getByRole('link', { name: 'Delete qa' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete qa?' });
  await confirm.getByRole('textbox').fill('qa');
  await confirm.getByRole('button', { name: 'Delete environment' }).click();
  await expect(table.locator('tbody code')).toHaveText(['development', 'stage', 'production']);

  await page.goto(path);
  await hydrated(page);
  await expect(page.getByRole('navigation', { name: 'Environment' }).getByRole('link')).toHaveText([
    'development',
    'stage',
    'production',
  ]);
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => ['serious', 'critical'].includes(v.impact ?? ''))).toEqual([]);
  await page.goto(`${path}/settings`);
  await hydrated(page);
  const axeSettings = await new AxeBuilder({ page }).analyze();
  expect(axeSettings.violations.filter((v) => ['serious', 'critical'].includes(v.impact ?? ''))).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the switcher is links and a secret is added to the environment in the URL', async ({ browser }) => {
    const setup = await (await browser.newContext({ javaScriptEnabled: true })).newPage();
    await signIn(setup, ownerEmail, ownerPassword);
    const path = await newProject(setup, 'Plain envs');

    const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
    await signIn(page, ownerEmail, ownerPassword, false);
    await page.goto(path);
    await page.getByRole('navigation', { name: 'Environment' }).getByRole('link', { name: 'staging' }).click();
    await expect(page).toHaveURL(`${path}/staging`);
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    const add = page.locator('dialog#add-secret');
    await add.getByLabel('Secret Key').fill('STAGING_ONLY');
    await add.getByLabel('Secret Value', { exact: true }).fill('plain-staging-value');
    await add.getByRole('button', { name: 'Create Secret' }).click();
    await expect(page).toHaveURL(`${path}/staging`);
    await expect(page.getByRole('row').filter({ hasText: 'STAGING_ONLY' })).toBeVisible();
    await page.goto(`${path}/development`);
    await expect(page.getByRole('row').filter({ hasText: 'STAGING_ONLY' })).toHaveCount(0);

    await page.goto(`${path}/settings`);
    await page.getByLabel('New environment').fill('preview');
    await page.getByRole('button', { name: 'Add environment' }).click();
    await expect(page.locator('table.environments-table tbody code')).toHaveText([
      'development',
      'staging',
      'production',
      'preview',
    ]);
  });
});
