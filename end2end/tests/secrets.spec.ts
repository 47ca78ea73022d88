import AxeBuilder from '@axe-core/playwright';
import { type APIRequestContext, type Page, expect } from '@playwright/test';
import { test } from './fixtures';
import fs from 'node:fs';
import {
  expectNoOwnSecrets,
  hydrated,
  newProject,
  ownerEmail,
  ownerPassword,
  signedInPages,
  signIn,
  uniqueEmail,
  uniqueName,
} from './helpers';

// People for these tests, added once by the owner through the server functions.
const admin = { email: uniqueEmail('admin'), password: 'admin password 1234' };
const member = { email: uniqueEmail('member'), password: 'member password 1234' };

async function rpc(request: APIRequestContext, path: string, form: Record<string, string>) {
  const response = await request.post(path, { form });
  expect(response.status(), `${path}: ${await response.text()}`).toBe(200);
}

test.beforeAll(async ({ request }) => {
  await rpc(request, '/rpc/sign_in', { email: ownerEmail, password: ownerPassword });
  for (const [person, role] of [
    [admin, 'admin'],
    [member, 'member'],
  ] as const) {
    await rpc(request, '/rpc/add_member', { email: person.email, name: '', role, password: person.password });
  }
});

async function addSecret(page: Page, key: string, value: string, description = '') {
  await page.getByRole('link', { name: 'Add Secret' }).first().click();
  const dialog = page.getByRole('dialog', { name: /Add/ });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Secret Key').fill(key);
  await dialog.getByLabel('Secret Value', { exact: true }).fill(value);
  if (description) await dialog.getByLabel('Description').fill(description);
  await dialog.getByRole('button', { name: 'Create Secret' }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole('row').filter({ hasText: key })).toBeVisible();
}

test.describe('as an admin', () => {
  test.beforeEach(async ({ page }) => {
    await signIn(page, admin.email, admin.password);
  });

  test('adds a secret: empty state, inline errors, suggested type, show/hide, generate', async ({ page }) => {
    await newProject(page, 'Bot');
    await expectNoOwnSecrets(page);
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByLabel('Secret Key')).toBeFocused();

    await dialog.getByLabel('Secret Key').fill('lower_case');
    const value = dialog.getByLabel('Secret Value', { exact: true });
    await value.fill('https://discord.com/api/webhooks/123/abc');
    await expect(dialog.getByLabel('Type')).toHaveValue('webhook_url');
    await expect(value).toHaveAttribute('type', 'password');
    await dialog.getByRole('button', { name: 'Show' }).click();
    await expect(value).toHaveAttribute('type', 'text');
    await dialog.getByRole('button', { name: 'Hide' }).click();
    await expect(value).toHaveAttribute('type', 'password');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(dialog.locator('#add-key-error')).toHaveText(
      'Keys must use uppercase letters, digits and underscores, and must not start with a digit',
    );
    await expect(dialog.getByLabel('Secret Key')).toHaveAccessibleDescription(/uppercase letters/);

    await dialog.getByLabel('Secret Key').fill('DISCORD_WEBHOOK');
    await dialog.getByRole('button', { name: 'Generate' }).click();
    await expect(value).toHaveValue(/^[A-Za-z0-9]{32}$/);
    await value.fill('https://discord.com/api/webhooks/123/abc');
    await dialog.getByLabel('Description').fill('Alerts channel');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();

    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'created' })).toHaveText('Secret DISCORD_WEBHOOK created');
    const row = page.getByRole('row').filter({ hasText: 'DISCORD_WEBHOOK' });
    await expect(row).toContainText('Alerts channel');
    await expect(row).toContainText('Webhook URL');
    await expect(row.getByRole('cell').nth(3)).toHaveText('just now');
    await expect(row.locator('time').first()).toHaveAttribute('title', / UTC$/);
    await expect(row.locator('code')).toHaveCSS('font-family', /mono/);
    await expect(page).not.toHaveURL(/dialog=/);
  });

  test('edits a secret: key read-only, "No changes to save", description saved', async ({ page }) => {
    await newProject(page, 'Edit');
    await addSecret(page, 'API_KEY', 'sk_live_original');
    await page.getByRole('link', { name: 'Edit API_KEY' }).click();
    const dialog = page.getByRole('dialog', { name: 'Edit API_KEY' });
    await expect(dialog.getByLabel('Secret Key')).toHaveAttribute('readonly', '');
    await expect(dialog.getByLabel('Secret Key')).toHaveValue('API_KEY');
    await expect(dialog.getByLabel('New Value')).toHaveValue('');
    await dialog.getByRole('button', { name: 'Update Secret' }).click();
    await expect(dialog.getByRole('alert')).toHaveText('No changes to save');

    await dialog.getByLabel('Description').fill('Payments provider');
    await dialog.getByRole('button', { name: 'Update Secret' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('row').filter({ hasText: 'API_KEY' })).toContainText('Payments provider');
  });

  test('deletes a secret behind a confirmation that names it; Cancel keeps it', async ({ page }) => {
    await newProject(page, 'Delete');
    await addSecret(page, 'OLD_TOKEN', 'old-token-value');
    await page.getByRole('link', { name: 'Delete OLD_TOKEN' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete OLD_TOKEN?' });
    await expect(dialog).toContainText('OLD_TOKEN');
    await expect(dialog).toContainText('permanently');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('row').filter({ hasText: 'OLD_TOKEN' })).toBeVisible();

    await page.getByRole('link', { name: 'Delete OLD_TOKEN' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('row').filter({ hasText: 'OLD_TOKEN' })).toHaveCount(0);
    await expectNoOwnSecrets(page);
  });

  test('History lists every version without values; Roll back asks, then writes a new version', async ({ page }) => {
    const path = await newProject(page, 'History');
    await addSecret(page, 'API_KEY', 'history-first-value', 'First');
    await page.getByRole('link', { name: 'Edit API_KEY' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit API_KEY' });
    await edit.getByLabel('New Value').fill('history-second-value');
    await edit.getByLabel('Description').fill('Second');
    await edit.getByRole('button', { name: 'Update Secret' }).click();
    await expect(edit).toBeHidden();

    await page.getByRole('link', { name: 'History of API_KEY' }).click();
    await expect(page).toHaveURL(`${path}/development/history/API_KEY`);
    await hydrated(page);
    const rows = page.locator('table.history-table tbody tr');
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0)).toContainText('v2');
    await expect(rows.nth(0)).toContainText('Current');
    await expect(rows.nth(0)).toContainText('value and description');
    await expect(rows.nth(1)).toContainText('created');
    await expect(rows.nth(1)).toContainText(admin.email);
    await expect(page.locator('main')).not.toContainText('history-first-value');

    await page.getByRole('link', { name: 'Roll back API_KEY to version 1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back to version 1?' });
    await expect(dialog).toContainText('API_KEY');
    await expect(dialog).toContainText('current again as version 3');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    await expect(rows).toHaveCount(2);

    await page.getByRole('link', { name: 'Roll back API_KEY to version 1' }).click();
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('status').filter({ hasText: 'rolled back' })).toHaveText(
      'API_KEY rolled back to version 1 (now version 3)',
    );
    await expect(rows).toHaveCount(3);
    await expect(rows.nth(0)).toContainText('v3');
    await expect(rows.nth(0)).toContainText('rolled back to v1');
    await expect(rows.nth(0)).toContainText('Current');

    await page.getByRole('link', { name: 'Back to the secrets' }).click();
    await expect(page.getByRole('row').filter({ hasText: 'API_KEY' })).toContainText('First');
    await page.getByRole('link', { name: 'Delete API_KEY' }).click();
    await expect(page.getByRole('dialog', { name: 'Delete API_KEY?' })).toContainText('whole history (3 versions)');
  });

  test('dialogs keep focus inside, close with Escape, and everything works from the keyboard', async ({ page }) => {
    await newProject(page, 'Keyboard');
    await page.getByRole('link', { name: 'Add Secret' }).first().focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await expect(dialog).toBeVisible();
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      const inside = await page.evaluate(() => !!document.activeElement?.closest('dialog[open]'));
      // Tabbing may visit the browser's own UI between the last and first control; never the page.
      const onPage = await page.evaluate(() => document.activeElement !== document.body);
      if (onPage) expect(inside).toBe(true);
    }
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(page).not.toHaveURL(/dialog=/);

    await page.getByRole('link', { name: 'Add Secret' }).first().focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('KEYBOARD_KEY');
    await page.keyboard.press('Tab');
    await page.keyboard.type('typed-from-the-keyboard');
    await page.keyboard.press('Enter');
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('row').filter({ hasText: 'KEYBOARD_KEY' })).toBeVisible();
  });

  test('filters by key or description', async ({ page }) => {
    await newProject(page, 'Filter');
    await addSecret(page, 'STRIPE_KEY', 'sk_test_1', 'Payments');
    await addSecret(page, 'DISCORD_TOKEN', 'discord-1', 'Chat bot');
    const filter = page.getByLabel('Filter secrets');
    await filter.fill('chat');
    await expect(page.getByRole('row').filter({ hasText: 'DISCORD_TOKEN' })).toBeVisible();
    await expect(page.getByRole('row').filter({ hasText: 'STRIPE_KEY' })).toHaveCount(0);
    await filter.fill('stripe');
    await expect(page.getByRole('row').filter({ hasText: 'STRIPE_KEY' })).toBeVisible();
    await expect(page.getByRole('row').filter({ hasText: 'DISCORD_TOKEN' })).toHaveCount(0);
  });

  test('required secrets warn until set; the warning opens Add Secret with the key filled in', async ({ page }) => {
    const path = await newProject(page, 'Required');
    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByLabel('Required secrets').fill('DISCORD_BOT_TOKEN');
    await page.getByLabel('Maximum secret age (days)').fill('90');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('Settings saved')).toBeVisible();

    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Secrets' }).click();
    await expect(page).toHaveURL(path);
    const warning = page.getByRole('alert').filter({ hasText: 'Required secret' });
    await expect(warning).toHaveText(/Required secret DISCORD_BOT_TOKEN is not set/);
    await warning.getByRole('link', { name: 'Add DISCORD_BOT_TOKEN' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add Secret' });
    await expect(dialog.getByLabel('Secret Key')).toHaveValue('DISCORD_BOT_TOKEN');
    await dialog.getByLabel('Secret Value', { exact: true }).fill('bot-token-value');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(dialog).toBeHidden();
    await expect(page.getByRole('alert').filter({ hasText: 'Required secret' })).toHaveCount(0);
  });

  test('team secrets appear in projects with a badge; a project secret says it overrides one', async ({ page }) => {
    const key = `TEAM_${Date.now().toString(36).toUpperCase()}`;
    const path = await newProject(page, 'Team');
    await page.goto('/settings');
    await page.getByRole('link', { name: 'Team secrets' }).click();
    await hydrated(page);
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add team secret' });
    await dialog.getByLabel('Secret Key').fill(key);
    await dialog.getByLabel('Secret Value', { exact: true }).fill('team-wide-value');
    await dialog.getByRole('button', { name: 'Create Secret' }).click();
    await expect(page.getByRole('row').filter({ hasText: key })).toBeVisible();

    await page.goto(path);
    await hydrated(page);
    const teamRow = page.getByRole('row').filter({ hasText: key });
    await expect(teamRow.getByText('Team', { exact: true })).toBeVisible();
    await expect(teamRow.getByRole('link', { name: `Edit ${key}` })).toHaveCount(0);
    await addSecret(page, key, 'project-specific-value');
    await expect(page.getByRole('row').filter({ hasText: key })).toContainText('Overrides team secret');

    // Every project receives a team secret: it goes again, so that other tests' projects start empty.
    await page.goto('/settings/team-secrets');
    await hydrated(page);
    await page.getByRole('link', { name: `Delete ${key}` }).click();
    await page.getByRole('dialog', { name: `Delete ${key}?` }).getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByRole('row').filter({ hasText: key })).toHaveCount(0);
  });

  test('settings: rename keeps the URL; deleting needs the name typed exactly', async ({ page }) => {
    const path = await newProject(page, 'Rename');
    await page.goto(`${path}/settings`);
    await hydrated(page);
    const renamed = uniqueName('Renamed');
    await page.getByLabel('Project name').fill(renamed);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('Settings saved')).toBeVisible();
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1, name: renamed })).toBeVisible();

    await page.goto(`${path}/settings`);
    await hydrated(page);
    await page.getByRole('link', { name: 'Delete project' }).click();
    const dialog = page.getByRole('dialog', { name: `Delete ${renamed}?` });
    await dialog.getByLabel(`Type ${renamed} to confirm`).fill('not the name');
    await dialog.getByRole('button', { name: 'Delete project' }).click();
    await expect(dialog.locator('#delete-project-confirm-error')).toContainText('exactly');
    await dialog.getByLabel(`Type ${renamed} to confirm`).fill(renamed);
    await dialog.getByRole('button', { name: 'Delete project' }).click();
    await expect(page).toHaveURL(/\/projects$/);
    await expect(page.getByRole('link', { name: renamed })).toHaveCount(0);
  });

  test('variables: add, include in export, and "Export .env" has only those marked', async ({ page }) => {
    const path = await newProject(page, 'Variables');
    await addSecret(page, 'NEVER_EXPORTED', 'secret-value-not-in-env');
    await page.getByRole('navigation', { name: 'Project' }).getByRole('link', { name: 'Variables' }).click();
    await hydrated(page);
    for (const [key, value, exported] of [
      ['LOG_LEVEL', 'debug', true],
      ['LOCAL_ONLY', 'yes', false],
    ] as const) {
      await page.getByRole('link', { name: 'Add Variable' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add Variable' });
      await dialog.getByLabel('Variable Key').fill(key);
      await dialog.getByLabel('Value').fill(value);
      if (exported) await dialog.getByLabel('Include in export').check();
      await dialog.getByRole('button', { name: 'Create Variable' }).click();
      await expect(dialog).toBeHidden();
      await expect(page.getByRole('row').filter({ hasText: key })).toContainText(value);
    }
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export .env' }).click();
    const file = await (await download).path();
    expect(fs.readFileSync(file, 'utf8')).toBe('LOG_LEVEL=debug\n');
    expect(path).toMatch(/^\/projects\//);
  });
});

test.describe('as a member', () => {
  test('sees names and metadata with no Add, Edit or Delete; the server refuses changes', async ({ browser }) => {
    const adminPage = await (await browser.newContext()).newPage();
    await signIn(adminPage, admin.email, admin.password);
    const path = await newProject(adminPage, 'Member view');
    await addSecret(adminPage, 'VISIBLE_KEY', 'hidden-from-members', 'Shown to members');

    const page = await (await browser.newContext()).newPage();
    await signIn(page, member.email, member.password);
    await page.goto(path);
    await hydrated(page);
    const row = page.getByRole('row').filter({ hasText: 'VISIBLE_KEY' });
    await expect(row).toContainText('Shown to members');
    await expect(page.getByRole('link', { name: 'Add Secret' })).toHaveCount(0);
    await expect(row.getByRole('link', { name: /Edit|Delete/ })).toHaveCount(0);
    await page.goto(`${path}?dialog=edit:VISIBLE_KEY`);
    await expect(page.getByRole('dialog')).toHaveCount(0);

    const slug = path.split('/').pop() ?? '';
    const refused = await page.request.post('/rpc/delete_secret', {
      form: { scope: slug, key: 'VISIBLE_KEY', version: '1' },
    });
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain('Only owners and admins can do this.');
    await page.reload();
    await expect(page.getByRole('row').filter({ hasText: 'VISIBLE_KEY' })).toBeVisible();
  });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('add, edit and delete work as plain forms, with errors beside their fields', async ({ browser }) => {
    // The project is made with JavaScript; the flows under test run without it.
    const setup = await (await browser.newContext({ javaScriptEnabled: true })).newPage();
    await signIn(setup, admin.email, admin.password);
    const path = await newProject(setup, 'Plain');

    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signIn(page, admin.email, admin.password, false);
    await page.goto(path);
    await page.getByRole('link', { name: 'Add Secret' }).first().click();
    await expect(page).toHaveURL(/dialog=add/);
    const add = page.locator('dialog#add-secret');
    await add.getByLabel('Secret Key').fill('9_BAD');
    await add.getByLabel('Secret Value', { exact: true }).fill('plain-value');
    await add.getByLabel('Description').fill('Typed before the error');
    await add.getByRole('button', { name: 'Create Secret' }).click();
    await expect(page.locator('dialog#add-secret #add-key-error')).toHaveText(
      'Keys must use uppercase letters, digits and underscores, and must not start with a digit',
    );
    // What was typed is still there, except the value, which is never sent back to the page.
    await expect(page.locator('dialog#add-secret').getByLabel('Secret Key')).toHaveValue('9_BAD');
    await expect(page.locator('dialog#add-secret').getByLabel('Description')).toHaveValue('Typed before the error');
    await expect(page.locator('dialog#add-secret').getByLabel('Secret Value', { exact: true })).toHaveValue('');
    await page.locator('dialog#add-secret').getByLabel('Secret Key').fill('PLAIN_KEY');
    await page.locator('dialog#add-secret').getByLabel('Secret Value', { exact: true }).fill('plain-value');
    await page.locator('dialog#add-secret').getByRole('button', { name: 'Create Secret' }).click();
    await expect(page).not.toHaveURL(/dialog=|typed\./);
    await expect(page.getByRole('row').filter({ hasText: 'PLAIN_KEY' })).toContainText('Typed before the error');

    await page.getByRole('link', { name: 'Edit PLAIN_KEY' }).click();
    const edit = page.locator('dialog#edit-secret');
    await edit.getByRole('button', { name: 'Update Secret' }).click();
    await expect(page.locator('dialog#edit-secret').getByRole('alert')).toHaveText('No changes to save');
    await page.locator('dialog#edit-secret').getByLabel('Description').fill('Set without JavaScript');
    await page.locator('dialog#edit-secret').getByRole('button', { name: 'Update Secret' }).click();
    await expect(page.getByRole('row').filter({ hasText: 'PLAIN_KEY' })).toContainText('Set without JavaScript');

    await page.getByRole('link', { name: 'History of PLAIN_KEY' }).click();
    await expect(page.locator('table.history-table tbody tr')).toHaveCount(2);
    await page.getByRole('link', { name: 'Roll back PLAIN_KEY to version 1' }).click();
    await expect(page).toHaveURL(/dialog=rollback:1/);
    await page.locator('dialog#rollback-secret').getByRole('button', { name: 'Roll back' }).click();
    await expect(page).not.toHaveURL(/dialog=/);
    await expect(page.locator('table.history-table tbody tr').first()).toContainText('rolled back to v1');
    await page.getByRole('link', { name: 'Back to the secrets' }).click();
    await expect(page.getByRole('row').filter({ hasText: 'PLAIN_KEY' })).toContainText('Typed before the error');

    await page.getByRole('link', { name: 'Delete PLAIN_KEY' }).click();
    await page.locator('dialog#delete-secret').getByRole('button', { name: 'Delete' }).click();
    await expect(page.getByRole('row').filter({ hasText: 'PLAIN_KEY' })).toHaveCount(0);
  });
});

test('no page has serious or critical accessibility violations', async ({ page }) => {
  await signIn(page, admin.email, admin.password);
  const path = await newProject(page, 'Axe');
  await addSecret(page, 'AXE_KEY', 'axe-value', 'Checked by axe');
  // The dialogs first: the test signs out from the last page, which must have none open.
  const pages = [
    '/',
    `${path}?dialog=add`,
    `${path}?dialog=edit:AXE_KEY`,
    `${path}?dialog=delete:AXE_KEY`,
    `${path}/development/history/AXE_KEY`,
    ...signedInPages(path),
  ];
  const problems: string[] = [];
  for (const url of pages) {
    await page.goto(url);
    await hydrated(page);
    const results = await new AxeBuilder({ page }).analyze();
    for (const violation of results.violations) {
      if (violation.impact === 'serious' || violation.impact === 'critical') {
        problems.push(`${url}: ${violation.id} (${violation.impact}): ${violation.nodes.map((n) => n.target).join(', ')}`);
      }
    }
  }
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  const login = await new AxeBuilder({ page }).analyze();
  for (const violation of login.violations) {
    if (violation.impact === 'serious' || violation.impact === 'critical') problems.push(`/login: ${violation.id}`);
  }
  expect(problems).toEqual([]);
});

test('canary: a value saved in the browser never comes back to any role', async ({ browser }) => {
  const canary = `canary-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  const seen: string[] = [];
  async function watch(page: Page) {
    page.on('response', async (response) => {
      try {
        seen.push(await response.text());
      } catch {
        // Redirects and aborted requests have no body.
      }
    });
  }

  const adminPage = await (await browser.newContext()).newPage();
  await watch(adminPage);
  await signIn(adminPage, admin.email, admin.password);
  const path = await newProject(adminPage, 'Canary');
  await addSecret(adminPage, 'CANARY_KEY', canary, 'The canary');
  await adminPage.getByRole('link', { name: 'Edit CANARY_KEY' }).click();
  await adminPage.getByRole('dialog', { name: 'Edit CANARY_KEY' }).getByLabel('Description').fill('Still a canary');
  await adminPage.getByRole('dialog', { name: 'Edit CANARY_KEY' }).getByRole('button', { name: 'Update Secret' }).click();
  await expect(adminPage.getByRole('row').filter({ hasText: 'Still a canary' })).toBeVisible();
  const history = `${path}/development/history/CANARY_KEY`;
  for (const url of [path, `${path}?dialog=edit:CANARY_KEY`, `${path}/variables`, `${path}/settings`, '/projects', history, `${history}?dialog=rollback:1`]) {
    await adminPage.goto(url);
    await hydrated(adminPage);
    seen.push(await adminPage.content());
  }

  const memberPage = await (await browser.newContext()).newPage();
  await watch(memberPage);
  await signIn(memberPage, member.email, member.password);
  for (const url of [path, `${path}?dialog=edit:CANARY_KEY`, `${path}/variables`, '/projects', history]) {
    await memberPage.goto(url);
    await hydrated(memberPage);
    seen.push(await memberPage.content());
  }

  expect(seen.length).toBeGreaterThan(10);
  expect(seen.some((body) => body.includes('CANARY_KEY'))).toBe(true);
  const leaks = seen.filter((body) => body.includes(canary));
  expect(leaks).toEqual([]);
});
