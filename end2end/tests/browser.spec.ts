import { type Page, expect, test } from '@playwright/test';
import { hydrated, newProject, ownerEmail, ownerPassword, signIn } from './helpers';

/** Whether the page scrolls sideways (it must not: only a wide table scrolls, in its own box). */
async function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => (document.scrollingElement?.scrollWidth ?? 0) > window.innerWidth);
}

test.describe('on a phone (390 × 844)', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('no page scrolls sideways and the header keeps its controls on screen', async ({ page }, testInfo) => {
    await page.goto('/login');
    expect(await scrollsSideways(page), '/login').toBe(false);

    await signIn(page, ownerEmail, ownerPassword);
    const project = await newProject(page, 'Phone');
    // A long key and description make the secrets table wider than the phone.
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    const dialog = page.getByRole('dialog', { name: /Add/ });
    await expect(dialog).toBeVisible();
    expect(await scrollsSideways(page), 'the Add Secret dialog').toBe(false);
    const box = await dialog.boundingBox();
    expect(box!.x >= 0 && box!.x + box!.width <= 390, 'the Add Secret dialog fits').toBe(true);
    await dialog.getByLabel('Secret Key').fill('A_RATHER_LONG_SECRET_KEY_FOR_A_PHONE_SCREEN');
    await dialog.getByLabel('Secret Value', { exact: true }).fill('https://hooks.example.com/abc');
    await dialog.getByLabel('Description').fill('The webhook the deploy bot posts to after each release');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(dialog).toBeHidden();

    for (const path of [
      '/',
      '/projects',
      project,
      `${project}/variables`,
      `${project}/tokens`,
      `${project}/settings`,
      '/settings',
      '/settings/members',
      '/settings/team-secrets',
      '/settings/audit',
    ]) {
      await page.goto(path);
      await hydrated(page);
      expect(await scrollsSideways(page), path).toBe(false);
      for (const control of [
        page.getByRole('button', { name: 'Dark mode' }),
        page.getByRole('button', { name: 'Sign out' }),
      ]) {
        const box = await control.boundingBox();
        expect(box, `${path}: ${control}`).not.toBeNull();
        expect(box!.x + box!.width, `${path}: ${control} is on screen`).toBeLessThanOrEqual(390);
      }
    }
    await page.goto(project);
    await hydrated(page);
    await page.screenshot({ path: testInfo.outputPath('secrets-390.png'), fullPage: true });
    await page.getByRole('link', { name: /Delete/ }).first().click();
    const remove = page.getByRole('dialog', { name: /Delete/ });
    await expect(remove).toBeVisible();
    expect(await scrollsSideways(page), 'the delete dialog').toBe(false);
    const removeBox = await remove.boundingBox();
    expect(removeBox!.x >= 0 && removeBox!.x + removeBox!.width <= 390, 'it fits').toBe(true);
    await page.screenshot({ path: testInfo.outputPath('delete-dialog-390.png') });
  });
});

test('with JavaScript, the server’s own words appear next to the field, and Cancel sits left of the action', async ({
  page,
}) => {
  await signIn(page, ownerEmail, ownerPassword);
  await newProject(page, 'Messages');
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const dialog = page.getByRole('dialog', { name: /Add/ });
  const create = dialog.getByRole('button', { name: 'Create Secret' });
  const cancel = dialog.getByRole('button', { name: 'Cancel' });

  await create.click();
  await expect(dialog.getByText('Secret key is required')).toBeVisible();
  await dialog.getByLabel('Secret Key').fill('NEEDS_A_VALUE');
  await create.click();
  await expect(dialog.getByText('Secret value is required')).toBeVisible();
  await expect(dialog.getByText('Secret key is required')).toBeHidden();

  // One row at the bottom: Cancel on the left, the action on the right.
  const [cancelBox, createBox] = [await cancel.boundingBox(), await create.boundingBox()];
  expect(cancelBox && createBox).toBeTruthy();
  expect(cancelBox!.x + cancelBox!.width).toBeLessThan(createBox!.x);
  expect(Math.abs(cancelBox!.y + cancelBox!.height - (createBox!.y + createBox!.height))).toBeLessThan(2);
  await cancel.click();
  await expect(dialog).toBeHidden();
});

test('assets carry a content hash, come Brotli-compressed and are kept for a year; pages are not kept', async ({
  page,
  request,
}) => {
  const response = await page.goto('/login');
  expect(response!.headers()['cache-control']).toBe('no-store');
  const html = await response!.text();
  const assets = [...html.matchAll(/\/pkg\/[^"']+\.(?:js|wasm|css)/g)].map((m) => m[0]);
  const wasm = assets.find((a) => a.endsWith('.wasm'));
  expect(wasm, html).toMatch(/^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}(_bg)?\.wasm$/);
  expect(assets.some((a) => /^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}\.css$/.test(a)), html).toBe(true);
  expect(assets.some((a) => /^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}\.js$/.test(a)), html).toBe(true);
  for (const [encoding, expected] of [
    ['br', 'br'],
    ['gzip', 'gzip'],
  ]) {
    const asset = await request.get(wasm!, { headers: { 'accept-encoding': encoding } });
    expect(asset.status()).toBe(200);
    expect(asset.headers()['content-encoding'], encoding).toBe(expected);
    expect(asset.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers()['vary']).toBe('accept-encoding');
  }
  // The page still hydrates from the hashed files.
  await hydrated(page);
});
