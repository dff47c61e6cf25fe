/**
 * @migm/shortcut: the learned MIGM-Shortcut. This release holds its contract checks and cost model; running
 * it goes through any Backend's `velocity()` with `generate(backend, { predictor: 'learned' })`.
 */
export { getShortcut, idealSpeedup, type ShortcutInfo } from './shortcut-info.js';
