// Lint rules, including the ones that keep the two layers apart: the core
// (src/core) imports nothing from Node or from src/node; inside the Node
// layer nothing imports the CLI. `npm run lint` runs it; `npm test` too.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const NODE_BUILTINS = ['assert', 'buffer', 'child_process', 'crypto', 'events', 'fs', 'fs/promises', 'module', 'os'];
NODE_BUILTINS.push('path', 'process', 'stream', 'url', 'util', 'worker_threads', 'zlib');
const PURE = 'The core is pure: no Node modules (put host code in src/node).';
const WEB = 'The web page runs in browsers: it may use the core (src/core) and web APIs only.';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.cache/', 'web/dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-control-regex': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  { files: ['src/core/runtime.d.ts'], rules: { 'no-var': 'off' } },
  // tests parse the CLI's JSON output; `any` there is the honest type
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: PURE })),
          patterns: [
            { group: ['node:*'], message: PURE },
            { group: ['**/node/**'], message: 'The core must not import the Node layer.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'The core is pure: use Uint8Array (see core/binary/bytes.ts).' },
        { name: 'process', message: 'The core is pure: take what you need as a parameter.' },
        { name: 'require', message: 'ESM only.' },
      ],
    },
  },
  // the web page bundles for browsers: the core only, no Node modules, no Node layer
  {
    files: ['web/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.map((name) => ({ name, message: WEB })),
          patterns: [
            { group: ['node:*'], message: WEB },
            { group: ['**/src/node/**'], message: WEB },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Buffer', message: WEB }, { name: 'process', message: WEB }],
    },
  },
  {
    files: ['src/node/**/*.ts'],
    ignores: ['src/node/cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli/**'], message: 'Dependencies point down: only the CLI imports the CLI.' }] },
      ],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        performance: 'readonly',
      },
    },
  },
);
