import { expect } from '@playwright/test';
import { test } from './fixtures';
import { hydrated, ownerEmail, ownerPassword, signIn } from './helpers';

test('an admin creates a token that is shown once and reads the env with it, then revokes it', async ({
  page,
}) => {
  const suffix = Date.now().toString(36);
  await signIn(page, ownerEmail, ownerPassword);
  const created = await page.request.post('/rpc/create_project', { form: { name: `Tokens ${suffix}` } });
  expect(created.status()).toBe(200);
  const slug = `tokens-${suffix}`;
  const secret = await page.request.post('/rpc/create_secret', {
    form: { scope: slug, key: 'BOT_TOKEN', value: 'tokens-e2e-value', description: '', secret_type: '' },
  });
  expect(secret.status()).toBe(200);

  await page.goto(`/projects/${slug}/tokens`);
  await hydrated(page);
  await expect(page.getByText('No tokens yet.')).toBeVisible();
  await page.getByRole('link', { name: 'Create token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create token' });
  await dialog.getByLabel('Name').fill('deploy-bot');
  await dialog.getByLabel('Scope').selectOption('read');
  await dialog.getByLabel('Expires in (days)').fill('30');
  await dialog.getByRole('button', { name: 'Create token' }).click();

  const shown = page.getByTestId('new-token');
  await expect(shown).toHaveText(/^sbx_[A-Za-z0-9_-]{43}$/);
  const token = (await shown.textContent()) ?? '';
  const row = page.getByRole('row').filter({ hasText: 'deploy-bot' });
  await expect(row).toContainText('read');
  await expect(row).toContainText('Never');
  await expect(row).toContainText('UTC');

  const env = await page.request.get(`/api/v1/projects/${slug}/env`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(env.status()).toBe(200);
  expect((await env.json()).BOT_TOKEN).toBe('tokens-e2e-value');

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  await expect(page.locator('body')).not.toContainText(token);

  await page.getByRole('link', { name: 'Revoke deploy-bot' }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke deploy-bot?' });
  await expect(confirm).toContainText('deploy-bot');
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('row').filter({ hasText: 'deploy-bot' })).toHaveCount(0);
  const refused = await page.request.get(`/api/v1/projects/${slug}/env`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(refused.status()).toBe(401);
});
