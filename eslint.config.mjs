// Lint rules: typescript-eslint's recommended set with type information, plus the rules that keep
// promises handled, `any` out, and sockets out of game code (the architecture test checks the
// layers; this catches the same mistake at edit time). Formatting is Prettier's alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'shared/protocol/gen/', '.noon/', 'dist/', 'bench/results/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
    },
  },
  {
    files: ['services/*/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['zeromq', 'ws', 'net', 'node:net', 'http', 'node:http', 'thrift'].map((name) => ({
            name,
            message: 'game services never touch a socket: use the service API (rpc/api.ts)',
          })),
          patterns: [
            {
              group: ['**/yellow/*', '**/roles/*', '**/rpc/*', '!**/rpc/api'],
              message: 'game services import only the service API (rpc/api.ts) and shared/',
            },
          ],
        },
      ],
    },
  },
);
