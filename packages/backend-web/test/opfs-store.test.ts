// The OPFS bundle store against an in-memory directory with the File System Access semantics it relies on:
// createWritable writes to a swap file that replaces the file only on close (abort leaves the old one).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { opfsStore, type DirectoryLike } from '../src/index.js';

class MemoryDirectory implements DirectoryLike {
  readonly files = new Map<string, Uint8Array>();
  failWritesOver = Infinity;
  async getFileHandle(name: string, options?: { create?: boolean }) {
    if (!this.files.has(name)) {
      if (!options?.create) throw new DOMException(`${name} not found`, 'NotFoundError');
      this.files.set(name, new Uint8Array(0));
    }
    return {
      getFile: async () => new Blob([this.files.get(name)! as Uint8Array<ArrayBuffer>]),
      createWritable: async () => {
        const parts: Uint8Array[] = [];
        return {
          write: async (data: Uint8Array) => {
            if (data.byteLength > this.failWritesOver) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
            parts.push(data.slice());
          },
          close: async () => void this.files.set(name, Buffer.concat(parts)),
          abort: async () => {},
        };
      },
    };
  }
  async getDirectoryHandle(): Promise<DirectoryLike> {
    throw new DOMException('no folders here', 'NotFoundError');
  }
  async removeEntry(name: string) {
    if (!this.files.delete(name)) throw new DOMException(`${name} not found`, 'NotFoundError');
  }
  async *keys() {
    yield* [...this.files.keys()];
  }
}

const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) % 256);
const sha256 = createHash('sha256').update(bytes).digest('hex');

describe('opfsStore', () => {
  it('stores a file under its sha256, reads it back verified, lists and clears', async () => {
    const dir = new MemoryDirectory();
    const store = opfsStore(dir);
    await store.write('http://x/m/base.onnx', sha256, bytes);
    expect([...dir.files.keys()].sort()).toEqual([`${sha256}.bin`, `${sha256}.json`]);
    const into = new Uint8Array(bytes.length);
    const seen: number[] = [];
    expect(await store.read('http://x/m/base.onnx', { bytes: bytes.length, sha256 }, into, (n) => seen.push(n))).toEqual({ hit: true });
    expect(into).toEqual(bytes);
    expect(seen.at(-1)).toBe(bytes.length);
    expect(await store.list()).toEqual([{ url: 'http://x/m/base.onnx', sha256, bytes: bytes.length, parts: 1 }]);
    await store.clear();
    expect(dir.files.size).toBe(0);
    expect(await store.read('http://x/m/base.onnx', { bytes: bytes.length, sha256 }, into, () => {})).toEqual({ hit: false });
  });

  it('drops a copy of the wrong size (from its metadata) or with changed bytes', async () => {
    const dir = new MemoryDirectory();
    const store = opfsStore(dir);
    await store.write('u', sha256, bytes);
    const r = await store.read('u', { bytes: bytes.length + 1, sha256 }, new Uint8Array(bytes.length + 1), () => {
      throw new Error('no byte should be read');
    });
    expect(r).toMatchObject({ hit: false, problem: expect.stringMatching(/300000 bytes, the manifest says 300001/) });
    expect(dir.files.size).toBe(0);
    await store.write('u', sha256, bytes);
    const stored = dir.files.get(`${sha256}.bin`)!;
    stored[7] = stored[7]! ^ 1;
    expect(await store.read('u', { bytes: bytes.length, sha256 }, new Uint8Array(bytes.length), () => {})).toMatchObject({
      hit: false,
      problem: expect.stringMatching(/does not match its sha256/),
    });
    expect(dir.files.size).toBe(0);
  });

  it('a failed write throws and leaves nothing behind', async () => {
    const dir = new MemoryDirectory();
    dir.failWritesOver = 1000;
    await expect(opfsStore(dir).write('u', sha256, bytes)).rejects.toThrow(/quota/);
    expect(dir.files.size).toBe(0);
  });
});
