import { expect, type Page } from '@playwright/test';

export const ownerEmail = process.env.E2E_OWNER_EMAIL ?? '';
export const ownerPassword = process.env.E2E_OWNER_PASSWORD ?? '';

/** Waits until the wasm bundle has hydrated the page (set by the frontend crate). */
export async function hydrated(page: Page) {
  // The wasm is fetched and run when the browser is idle (deferred hydration), and the page's
  // chunk first (lazy routes): a few seconds when both workers are busy.
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true', { timeout: 20_000 });
}

/**
 * Signs in through the login page and waits for the start page. The form works with or without
 * the wasm, so this does not wait for hydration (tests that need it wait on their own page).
 */
export async function signIn(page: Page, email: string, password: string, _javascript = true) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/$/);
}

/** A unique address, so that tests running in parallel never collide. */
export function uniqueEmail(label: string): string {
  return `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** A unique project name, so that tests running in parallel never collide. */
export function uniqueName(label: string): string {
  return `${label} ${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** Creates a project through the "New project" dialog and waits for its Secrets tab. */
export async function newProject(page: Page, label: string): Promise<string> {
  const name = uniqueName(label);
  await page.goto('/projects');
  await hydrated(page);
  await page.getByRole('link', { name: 'New project' }).click();
  const dialog = page.getByRole('dialog', { name: 'New project' });
  await dialog.getByLabel('Project name').fill(name);
  await dialog.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await hydrated(page);
  return new URL(page.url()).pathname;
}

/** Every page a signed-in owner can open, for a project at `project` (its path). */
export function signedInPages(project: string): string[] {
  return [
    '/projects',
    project,
    `${project}/variables`,
    `${project}/production`,
    `${project}/production/variables`,
    `${project}/tokens`,
    `${project}/settings`,
    `${project}/compare`,
    `${project}/promote`,
    '/settings',
    '/settings/members',
    '/settings/team-secrets',
    '/settings/team-secrets/production',
    '/settings/audit',
  ];
}

/**
 * The Secrets tab holds none of its own secrets: its empty state, or only the rows of team
 * secrets (which every project receives) that a test running alongside has made for a moment.
 */
export async function expectNoOwnSecrets(page: Page) {
  const rows = page.locator('table.secrets-table tbody tr');
  const teamRows = rows.filter({ hasText: 'Managed in Team secrets' });
  await expect(async () => {
    const team = await teamRows.count();
    const empty = await page.getByRole('heading', { name: 'No secrets yet' }).isVisible();
    expect(team > 0 ? (await rows.count()) === team : empty).toBe(true);
  }).toPass();
}
