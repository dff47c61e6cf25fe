/** @migm/cli: the `migm` command line. Programmatic entry: `main(argv)` returns the exit code. */
export { main } from './main.js';
export { METHODS, METHOD_NAMES, type Method } from './methods.js';
export { encodePng, sideBySide } from './png.js';
