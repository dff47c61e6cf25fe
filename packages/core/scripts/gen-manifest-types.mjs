// Regenerates src/manifest/types.gen.ts from schema/manifest.schema.json (the single source of truth).
// `node scripts/gen-manifest-types.mjs --check` fails when the committed file is stale (run in tests).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const schemaPath = fileURLToPath(new URL('../schema/manifest.schema.json', import.meta.url));
const outPath = fileURLToPath(new URL('../src/manifest/types.gen.ts', import.meta.url));

export async function generate() {
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
  return compile(schema, 'MigmManifest', {
    bannerComment: '// Generated from schema/manifest.schema.json by scripts/gen-manifest-types.mjs. Do not edit.',
    additionalProperties: false,
    style: { singleQuote: true, printWidth: 120 },
    unreachableDefinitions: true,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ts = await generate();
  if (process.argv.includes('--check')) {
    if (readFileSync(outPath, 'utf8') !== ts) {
      console.error('src/manifest/types.gen.ts is stale: run `node scripts/gen-manifest-types.mjs`.');
      process.exit(1);
    }
  } else {
    writeFileSync(outPath, ts);
  }
}
