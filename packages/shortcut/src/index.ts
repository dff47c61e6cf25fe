/**
 * @migm/shortcut: the learned MIGM-Shortcut. Its contract checks and cost model, and trajectory recording for
 * training a shortcut from this runtime. Running it goes through any Backend's `velocity()` with
 * `generate(backend, { predictor: 'shortcut' })`.
 */
export { getShortcut, idealSpeedup, type ShortcutInfo } from './shortcut-info.js';
export {
  TrajectoryRecorder,
  type RecordOptions,
  type TrajectoryFile,
  type TrajectoryIndex,
  type TrajectoryRun,
  type TrajectorySink,
} from './trajectory-recorder.js';
