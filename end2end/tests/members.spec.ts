import { expect } from '@playwright/test';
import { test } from './fixtures';
import { hydrated, newProject, ownerEmail, ownerPassword, signIn, uniqueEmail } from './helpers';

test('the owner adds a member with a generated password, who signs in and cannot open Members', async ({
  page,
}) => {
  const email = uniqueEmail('member');
  await signIn(page, ownerEmail, ownerPassword);

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(/\/settings\/members$/);
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Name').fill('Mia Member');
  await page.getByRole('button', { name: 'Add member' }).click();

  await expect(page.getByRole('status').filter({ hasText: 'Added' })).toContainText(`Added ${email}.`);
  const password = (await page.locator('.generated-password').textContent()) ?? '';
  expect(password).toHaveLength(20);
  const row = page.getByRole('row').filter({ hasText: email });
  await expect(row).toContainText('Mia Member');
  await expect(row).toContainText('Member');
  await expect(row).toContainText('Never');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await signIn(page, email, password);

  await page.goto('/settings');
  await expect(page.getByText('You are signed in as')).toContainText('(Member)');
  await expect(page.getByRole('link', { name: 'Members' })).toHaveCount(0);
  const response = await page.goto('/settings/members');
  expect(response?.status()).toBe(403);
  await expect(page.getByRole('heading', { name: 'Not allowed' })).toBeVisible();
  await expect(page.getByText('Only owners and admins can do this.')).toBeVisible();
});

test('the owner changes a role, deactivates and reactivates someone', async ({ page }) => {
  const email = uniqueEmail('person');
  await signIn(page, ownerEmail, ownerPassword);
  await page.goto('/settings/members');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Initial password').fill('a typed password 123');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByText(`Added ${email}.`)).toBeVisible();
  await expect(page.locator('.generated-password')).toHaveCount(0);

  const row = page.getByRole('row').filter({ hasText: email });
  await row.getByLabel(`Role of ${email}`, { exact: true }).selectOption('admin');
  await row.getByRole('button', { name: `Change role of ${email}` }).click();
  await expect(row.getByRole('cell', { name: 'Admin', exact: true })).toBeVisible();

  await row.getByRole('button', { name: `Deactivate ${email}` }).click();
  // Deactivating someone shows what they could know.
  await expect(page).toHaveURL(/\/settings\/members\/\d+\/exposure$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`What ${email} could know`);
  await page.goto('/settings/members');
  await hydrated(page);
  await expect(row).toContainText('Deactivated');
  await row.getByRole('button', { name: `Reactivate ${email}` }).click();
  await expect(row).toContainText('Active');
});

test('the last owner cannot deactivate themselves and is told why', async ({ page }) => {
  await signIn(page, ownerEmail, ownerPassword);
  await page.goto('/settings/members');
  await hydrated(page);
  const row = page.getByRole('row').filter({ hasText: ownerEmail });
  await row.getByRole('button', { name: `Deactivate ${ownerEmail}` }).click();
  await expect(page.getByRole('alert')).toContainText('The last active owner cannot be demoted or deactivated');
  await expect(row).toContainText('Active');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a wrong password shows the message after a plain form post', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('Email').fill(ownerEmail);
    await page.getByLabel('Password').fill('definitely not it');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Invalid email or password');
  });

  test('the owner adds a member; a mistake is shown beside the form', async ({ page }) => {
    const email = uniqueEmail('plain');
    await signIn(page, ownerEmail, ownerPassword, false);
    await page.goto('/settings/members');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Initial password').fill('short');
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect(page.getByRole('alert')).toContainText('Passwords must be at least 12 characters');

    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Add member' }).click();
    await expect(page.getByText(`Added ${email}.`)).toBeVisible();
    await expect(page.locator('.generated-password')).toHaveText(/^\S{20}$/);
    await expect(page.getByRole('row').filter({ hasText: email })).toBeVisible();
  });
});

test('deactivating someone: their row links to what they could know; Revoke all ends their tokens', async ({
  browser,
}) => {
  const email = uniqueEmail('leaver');
  const password = 'leaver password 1234';
  const owner = await (await browser.newContext()).newPage();
  await signIn(owner, ownerEmail, ownerPassword);
  const added = await owner.request.post('/rpc/add_member', { form: { email, name: '', role: 'admin', password } });
  expect(added.status()).toBe(200);

  // The leaver sets a secret and makes a token.
  const leaver = await (await browser.newContext()).newPage();
  await signIn(leaver, email, password);
  const path = await newProject(leaver, 'Leaver');
  await leaver.getByRole('link', { name: 'Add Secret' }).first().click();
  const add = leaver.getByRole('dialog', { name: 'Add Secret' });
  await add.getByLabel('Secret Key').fill('LEAVER_TYPED');
  await add.getByLabel('Secret Value', { exact: true }).fill('typed-by-the-leaver');
  await add.getByRole('button', { name: 'Create Secret' }).click();
  await expect(leaver.getByRole('row').filter({ hasText: 'LEAVER_TYPED' })).toBeVisible();
  await leaver.goto(`${path}/tokens`);
  await hydrated(leaver);
  await leaver.getByRole('link', { name: 'Create token' }).click();
  const dialog = leaver.getByRole('dialog', { name: 'Create token' });
  await dialog.getByLabel('Name').fill('leaver-ci');
  await dialog.getByRole('button', { name: 'Create token' }).click();
  await expect(leaver.getByTestId('new-token')).toBeVisible();

  await owner.goto('/settings/members');
  await hydrated(owner);
  const row = owner.getByRole('row').filter({ hasText: email });
  await row.getByRole('button', { name: `Deactivate ${email}` }).click();
  await expect(owner).toHaveURL(/\/settings\/members\/\d+\/exposure$/);
  // On demand too: the person's row links to the same report.
  await owner.goto('/settings/members');
  await hydrated(owner);
  await expect(row).toContainText('Deactivated');
  await row.getByRole('link', { name: `What ${email} could know` }).click();
  await expect(owner).toHaveURL(/\/settings\/members\/\d+\/exposure$/);
  await hydrated(owner);
  await expect(owner.getByRole('heading', { level: 1 })).toHaveText(`What ${email} could know`);
  const line = owner.locator('table.exposure-table tbody tr').filter({ hasText: 'LEAVER_TYPED' });
  await expect(line).toContainText('They set its value');
  await expect(line.getByRole('link')).toHaveAttribute('href', `${path}/development?dialog=edit:LEAVER_TYPED`);
  await expect(owner.locator('table.exposure-tokens tbody tr')).toContainText('Live');
  await owner.getByRole('link', { name: 'Revoke all' }).click();
  const confirm = owner.getByRole('dialog', { name: 'Revoke all their tokens?' });
  await expect(confirm).toContainText(`This revokes the 1 live token(s) ${email} created`);
  await confirm.getByRole('button', { name: 'Revoke all' }).click();
  await expect(owner.getByRole('status').filter({ hasText: 'Revoked' })).toHaveText(`Revoked 1 token created by ${email}`);
  await expect(owner.locator('table.exposure-tokens tbody tr')).toContainText('Revoked');
  await expect(owner.getByRole('link', { name: 'Revoke all' })).toHaveCount(0);
  await expect(owner.locator('main')).not.toContainText('typed-by-the-leaver');
});
