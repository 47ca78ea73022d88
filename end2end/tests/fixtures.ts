import { test as base } from '@playwright/test';

/**
 * Playwright's `test`, with the browser's own errors (uncaught exceptions, a wasm panic's
 * message, `console.error`) collected for every page a test opens, and printed when the test
 * fails: a page that never hydrates then says why.
 */
export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ context }, use, testInfo) => {
      const errors: string[] = [];
      const watch = (page: import('@playwright/test').Page) => {
        page.on('pageerror', (error) => errors.push(`${page.url()}: uncaught ${error.stack ?? error.message}`));
        page.on('console', (message) => {
          if (message.type() === 'error') errors.push(`${page.url()}: console.error ${message.text()}`);
        });
      };
      context.pages().forEach(watch);
      context.on('page', watch);
      await use(errors);
      if (testInfo.status !== testInfo.expectedStatus && errors.length > 0) {
        const report = errors.join('\n');
        console.log(`The browser reported, during "${testInfo.title}":\n${report}`);
        await testInfo.attach('browser-errors', { body: report, contentType: 'text/plain' });
      }
    },
    { auto: true },
  ],
});
