import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MigmError } from '@migm/core';

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Images [n, 1, 28, 28] in [0, 1] and their labels. */
export interface LabelledImages {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

/** Reads the Fashion-MNIST test (or train) split from the IDX files. */
export async function readFashionMnist(split: 'test' | 'train' = 'test', dir = FASHION_MNIST_DIR): Promise<LabelledImages> {
  const prefix = split === 'test' ? 't10k' : 'train';
  const read = async (name: string) => {
    try {
      return gunzipSync(await readFile(join(dir, name)));
    } catch (err) {
      throw new MigmError('UNSUPPORTED', `Fashion-MNIST is not installed at ${dir} (${name}): apt-get install dataset-fashion-mnist`, { cause: err });
    }
  };
  const img = await read(`${prefix}-images-idx3-ubyte.gz`);
  const lab = await read(`${prefix}-labels-idx1-ubyte.gz`);
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new MigmError('UNSUPPORTED', `${dir}: not IDX image/label files`);
  const count = img.readUInt32BE(4);
  const images = new Float32Array(count * 784);
  for (let i = 0; i < images.length; i++) images[i] = img[16 + i]! / 255;
  const labels = Int32Array.from(lab.subarray(8, 8 + count));
  return { images, labels, count };
}
