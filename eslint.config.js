import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'docs/assets/**', 'data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // Plain JavaScript run by Node (the README example, the build script).
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: globals.node } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // The broker's core is its protocol engine on bytes: it knows neither sockets nor its QUIC port
  // (DESIGN.md; the engine tests run it without either). Dependencies point one way: quic/ → core/.
  {
    files: ['broker/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/transport/**', '**/transport/index.js'],
              message: 'broker/core must not use the transport.',
            },
            {
              group: ['**/quic/**', '../quic/*'],
              message: 'broker/core must not use its QUIC port (broker/quic).',
            },
            {
              group: ['node:dgram', 'node:net', '@matrixai/quic'],
              message: 'broker/core works on bytes, not sockets.',
            },
          ],
        },
      ],
    },
  },
);
