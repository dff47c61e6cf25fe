import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const source = readFileSync(fileURLToPath(new URL('../../src/generate/generate.ts', import.meta.url)), 'utf8');
/** The code without comments: what the rules below are about. */
const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

// generate() stays the sequence of src/loop/'s pieces: a part of a step changes in its piece, not here.
describe('the shape of generate()', () => {
  it('reads in one screen', () => {
    expect(source.split('\n').length).toBeLessThan(120);
  });

  it('has no class / text branch: conditioning is data handed to each forward', () => {
    for (const banned of [/\bclasses\b/, /'class'/, /'text'/, /encodeText/, /nullClassId/, /condition\.type/, /\bo\.text\s*[=!]==/])
      expect(code).not.toMatch(banned);
  });

  it('names its pieces instead of inlining them: no sampler, head or forward call of its own', () => {
    for (const inlined of [
      /sampleMaskedPositions|commitTopConfidence|drawStepUniforms/,
      /backend\.(forward|head|guidedHead|velocity|combine|sampleStep|createLogits)!?\(/,
    ]) {
      expect(code).not.toMatch(inlined);
    }
  });
});
