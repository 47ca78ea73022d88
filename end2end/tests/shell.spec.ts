import { expect, type Page } from '@playwright/test';
import { test } from './fixtures';

async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

test('the start page shows the navigation and the server version', async ({ page }) => {
  await page.goto('/');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Projects' })).toHaveAttribute('href', '/projects');
  await expect(nav.getByRole('link', { name: 'Settings' })).toHaveAttribute('href', '/settings');
  await expect(page.getByRole('status')).toContainText(/Sealbox \d+\.\d+\.\d+/);
  await expect(page.getByRole('status')).toContainText('Database ready');
});

test('once hydrated, the theme toggle switches to dark mode and remembers it', async ({ page }) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  await page.goto('/');
  await hydrated(page);
  const toggle = page.getByRole('button', { name: 'Dark mode' });
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  const posts: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/theme') posts.push(request.url());
  });

  await toggle.click();

  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(posts, 'switched in place, without asking the server').toEqual([]);
  // Remembered in a cookie, so the server renders the page dark: no light flash before the
  // bundle runs, and pages without the bundle (sign-in) are dark too.
  const html = await (await page.request.get('/')).text();
  expect(html).toContain('<html lang="en" data-theme="dark"');
  await page.reload();
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await page.goto('/login');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(violations, 'the page runs under its Content-Security-Policy').toEqual([]);
});

test('"Check status" asks the server again through a server function', async ({ page }) => {
  await page.goto('/');
  await hydrated(page);
  const answer = page.waitForResponse(
    (r) => r.url().endsWith('/rpc/check_server') && r.request().method() === 'POST',
  );

  await page.getByRole('button', { name: 'Check status' }).click();

  const response = await answer;
  expect(response.status()).toBe(200);
  expect(await response.json()).toMatchObject({ database_ready: true });
  await expect(page.getByRole('status')).toContainText('Database ready');
  await expect(page.getByRole('button', { name: 'Check status' })).toBeEnabled();
});

test('an unknown address shows the styled 404 page', async ({ page }) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Back to the start page' })).toBeVisible();
  // The stylesheet is served and applied.
  await expect(page.locator('header.topbar')).not.toHaveCSS('background-color', 'rgba(0, 0, 0, 0)');
});

test('client-side navigation from the 404 page back to the start page works', async ({ page }) => {
  await page.goto('/no/such/page');
  await hydrated(page);
  await page.getByRole('link', { name: 'Back to the start page' }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('heading', { name: 'Sealbox', level: 1 })).toBeVisible();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the page renders but never hydrates; the theme toggle asks the server', async ({ page }) => {
    await page.goto('/login');
    const toggle = page.getByRole('button', { name: 'Dark mode' });
    await expect(toggle).toHaveAttribute('aria-pressed', 'false');
    await toggle.click();
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expect(toggle).toHaveAttribute('aria-pressed', 'true');
    await toggle.click();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
    await page.goto('/');
    await expect(page.getByRole('status')).toContainText('Database ready');
    // "Check status" is a form too: the server answers with the page, freshly rendered.
    const posted = page.waitForResponse(
      (r) => r.url().endsWith('/rpc/check_server') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Check status' }).click();
    expect([302, 303]).toContain((await posted).status());
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole('status')).toContainText('Database ready');
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
  });
});
