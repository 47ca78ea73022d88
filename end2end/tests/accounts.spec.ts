import { expect } from '@playwright/test';
import { test } from './fixtures';
import { ownerEmail as email, ownerPassword as password } from './helpers';

// The sign-in page is plain HTML (no script, no wasm): its form posts to the server, which
// answers with the page again and the message, or with the start page.
test('a wrong password says "Invalid email or password"', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('definitely not it');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('Invalid email or password');
  // Back on the sign-in page, with the email kept (the password never is).
  await expect(page).toHaveURL(/\/login\?/);
  await expect(page.getByLabel('Email')).toHaveValue(email);
  await expect(page.getByLabel('Password')).toHaveValue('');
});

test('the owner signs in and out', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();

  await expect(page).toHaveURL(/\/$/);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByText(email)).toBeVisible();

  await nav.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(nav.getByRole('link', { name: 'Sign in' })).toBeVisible();
});
