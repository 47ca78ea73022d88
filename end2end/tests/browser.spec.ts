import { type Browser, type Page, expect } from '@playwright/test';
import { test } from './fixtures';
import { hydrated, newProject, ownerEmail, ownerPassword, signIn, signedInPages } from './helpers';

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

    for (const path of ['/', ...signedInPages(project)]) {
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

test('assets carry a content hash, come Brotli-compressed and are kept for a year while they hold what they were named after; pages are not kept', async ({
  page,
  request,
}) => {
  const response = await page.goto('/');
  expect(response!.headers()['cache-control']).toBe('no-store');
  const html = await response!.text();
  const assets = [...html.matchAll(/\/pkg\/[^"']+\.(?:js|wasm|css)/g)].map((m) => m[0]);
  const wasm = assets.find((a) => a.endsWith('.wasm'));
  expect(wasm, html).toMatch(/^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}(_bg)?\.wasm$/);
  expect(assets.some((a) => /^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}\.css$/.test(a)), html).toBe(true);
  expect(assets.some((a) => /^\/pkg\/sealbox\.[A-Za-z0-9_-]{22}\.js$/.test(a)), html).toBe(true);
  const css = assets.find((a) => a.endsWith('.css'));
  // The stylesheet holds what it was named after. The main wasm does not: the split build writes
  // the loader's final name into it after naming it, so it is asked for again (a 304 when
  // unchanged) rather than kept.
  for (const [asset, cache] of [
    [css!, 'public, max-age=31536000, immutable'],
    [wasm!, 'no-cache'],
  ]) {
    for (const encoding of ['br', 'gzip']) {
      const response = await request.get(asset, { headers: { 'accept-encoding': encoding } });
      expect(response.status()).toBe(200);
      expect(response.headers()['content-encoding'], `${asset} ${encoding}`).toBe(encoding);
      expect(response.headers()['cache-control'], asset).toBe(cache);
      expect(response.headers()['vary']).toBe('accept-encoding');
    }
  }
  // The page still hydrates from the hashed files.
  await hydrated(page);
});

test('every page hydrates without an error in the browser', async ({ page }) => {
  // A hydration mismatch (the server's HTML is not what the wasm expects) panics in the wasm:
  // the page looks right but stops working, and only the console says so.
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`${page.url()}: ${error.message}`));
  page.on('console', (message) => {
    // The one expected error: the 404 status of /no-such-page itself.
    const expected = page.url().endsWith('/no-such-page') && message.text().includes('404');
    if (message.type() === 'error' && !expected) {
      errors.push(`${page.url()}: ${message.text()}`);
    }
  });
  for (const path of ['/', '/no-such-page']) {
    await page.goto(path);
    await hydrated(page);
  }
  // The sign-in page has no bundle to hydrate; after signing in, the next page hydrates.
  await page.goto('/login');
  await expect(page.locator('script[type="module"], link[rel="modulepreload"]')).toHaveCount(0);
  await signIn(page, ownerEmail, ownerPassword);
  const project = await newProject(page, 'Hydrate');
  for (const path of signedInPages(project)) {
    await page.goto(path);
    await hydrated(page);
    await expect(page, path).toHaveTitle(/· Sealbox$/);
  }
  expect(errors).toEqual([]);
});

/** Bytes over the wire (Brotli) for a first visit of `path`, and the URLs loaded. */
async function firstVisit(
  browser: Browser,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ bytes: number; loaded: string[] }> {
  // Bytes over the wire do not depend on the machine, so these are budgets, not timings.
  const context = await browser.newContext({
    extraHTTPHeaders: { 'accept-encoding': 'br', ...headers },
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map<string, string>();
  let bytes = 0;
  cdp.on('Network.responseReceived', (event) => urls.set(event.requestId, event.response.url));
  cdp.on('Network.loadingFinished', (event) => {
    if (urls.has(event.requestId)) bytes += event.encodedDataLength;
  });
  await page.goto(url);
  if (headers.cookie) await hydrated(page);
  await page.waitForLoadState('networkidle');
  await context.close();
  return { bytes, loaded: [...urls.values()] };
}

test('the first visit of /login downloads no script and at most 20 KB (Brotli)', async ({
  browser,
  baseURL,
}) => {
  // People who are not signed in get plain HTML: the form posts without the bundle.
  const { bytes, loaded } = await firstVisit(browser, `${baseURL}/login`);
  expect(loaded.filter((url) => /\.(js|wasm)$/.test(url)), 'no script').toEqual([]);
  expect(bytes, loaded.join('\n')).toBeLessThanOrEqual(20_000);
});

test('the first signed-in visit of a project page downloads at most 560 KB (Brotli), only its own page chunks', async ({
  browser,
  baseURL,
  page,
}) => {
  await signIn(page, ownerEmail, ownerPassword);
  const project = await newProject(page, 'Budget');
  const cookies = await page.context().cookies();
  const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  const { bytes, loaded } = await firstVisit(browser, `${baseURL}${project}`, { cookie });
  expect(loaded.some((url) => /split___project_view/.test(url)), loaded.join('\n')).toBe(true);
  const otherPages = loaded.filter(
    // The Secrets tab's table is the team-secrets page's too, and since environments the split
    // build keeps part of what the project pages share with the Settings pages (about 8 KB) in
    // the Settings page's chunk; the byte budget below still holds the first visit.
    (url) => /split___/.test(url) && !/split___(project|secrets|team_secrets|settings)_view/.test(url),
  );
  expect(otherPages, 'no other page').toEqual([]);
  // 480 KB until environments: the secrets table's environment switcher, team badges and the
  // Copy link took the first visit to 510 KB (measured 2026-12-07); the History link, and the
  // History, Leak check and exposure pages (whose code the split build shares with the project
  // page in chunks it loads) to 550 KB (2026-12-08). Making it smaller again is the bundle
  // issue's work; this budget keeps it from growing unnoticed.
  expect(bytes, loaded.join('\n')).toBeLessThanOrEqual(560_000);
});
