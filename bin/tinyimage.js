#!/usr/bin/env node
// Thin launcher: all logic lives in the compiled library (dist/node/cli/main.js).
import module from 'node:module';

// Node 22.1 and later keep V8's compiled code of our ~100 modules between runs
// (in the temporary directory; NODE_DISABLE_COMPILE_CACHE=1 turns it off): 5-10 ms
// of every command's start. Node 20 has no such cache, and this does nothing there.
module.enableCompileCache?.();
const { main } = await import('../dist/node/cli/main.js');

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`tinyimage: internal error: ${err && err.stack ? err.stack : err}`);
    process.exitCode = 1;
  },
);
