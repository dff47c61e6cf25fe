'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const dir = path.join(__dirname, 'bundle');
exports.bundleUrl = pathToFileURL(dir + path.sep);
exports.bundleDir = function bundleDir() {
  return dir;
};
