/** @migm/cli: the `migm` command line. Programmatic entry: `main(argv)` returns the exit code. */
export { main } from './main.js';
export { ACCELERATED_METHODS, METHODS, METHOD_NAMES, predictorOf, TRAINING_FREE_METHODS, type Method } from './methods.js';
export { encodePng, sideBySide } from './png.js';
