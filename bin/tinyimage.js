#!/usr/bin/env node
// Thin launcher: all logic lives in the compiled library (dist/node/cli/main.js).
import { main } from '../dist/node/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`tinyimage: internal error: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  },
);
