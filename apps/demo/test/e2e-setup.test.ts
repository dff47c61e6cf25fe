import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every e2e file takes Chromium's launch, the page build and page setup from chromium.ts, so a flag, the build
// or the error recording changes in one place. This reads the files; it runs no browser.
const HERE = fileURLToPath(new URL('./', import.meta.url));
const SETUP = [
  /\bchromium\.launch(PersistentContext)?\(/, // launchChromium / launchPersistentChromium
  /\bpage\.on\('(console|pageerror)'/, // openPage records errors
  /\bawait build\(\{/, // buildDemo
  /\.newPage\(/, // openPage
  /no Chromium at /, // noteSkipped
];

describe('the e2e files', () => {
  it('set up Chromium and pages only through chromium.ts', () => {
    const files = readdirSync(HERE).filter((f) => f.endsWith('e2e.test.ts'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    const own = files.flatMap((f) => {
      const text = readFileSync(`${HERE}${f}`, 'utf8');
      return SETUP.filter((re) => re.test(text)).map((re) => `${f}: ${re.source}`);
    });
    expect(own).toEqual([]);
  });
});
