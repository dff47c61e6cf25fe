import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MigmError } from '@migm/core';
import type { TrajectoryFile, TrajectorySink } from './trajectory-recorder.js';

/**
 * A TrajectorySink writing into a directory (created if needed). Refuses a directory that already holds a
 * recording, so runs are never appended to someone else's data by accident.
 */
export async function directorySink(dir: string): Promise<TrajectorySink> {
  await mkdir(dir, { recursive: true });
  const handles = new Map<TrajectoryFile, FileHandle>();
  try {
    const probe = await open(join(dir, 'trajectories.json'), 'wx');
    await probe.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new MigmError('INVALID_OPTION', `${dir} already holds a trajectory recording; choose an empty directory.`);
    throw err;
  }
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
      await writeFile(join(dir, 'trajectories.json'), json);
    },
    async close() {
      await Promise.all([...handles.values()].map((h) => h.close()));
      handles.clear();
    },
  };
}
