import { mkdir, open, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MigmError } from '@migm/core';
import type { TrajectoryFile, TrajectorySink } from './trajectory-recorder.js';

/**
 * A TrajectorySink writing into a directory (created if needed). Refuses a directory that already holds a
 * recording (a non-empty trajectories.json), so runs are never mixed into someone else's data by accident.
 */
export async function directorySink(dir: string): Promise<TrajectorySink> {
  await mkdir(dir, { recursive: true });
  const indexPath = join(dir, 'trajectories.json');
  const existing = await stat(indexPath).catch(() => null);
  if (existing && existing.size > 0) {
    throw new MigmError('INVALID_OPTION', `${dir} already holds a trajectory recording; choose an empty directory.`);
  }
  const handles = new Map<TrajectoryFile, FileHandle>();
  return {
    async append(file, data) {
      let h = handles.get(file);
      if (!h) {
        h = await open(join(dir, file), 'w');
        handles.set(file, h);
      }
      await h.write(data);
    },
    async writeIndex(json) {
      await writeFile(indexPath, json);
    },
    async close() {
      await Promise.all([...handles.values()].map((h) => h.close()));
      handles.clear();
    },
  };
}
