import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', '.data/', 'coverage/', 'test-output/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Off on purpose: Nest's DI reads constructor parameter types from decorator
      // metadata, which a type-only import erases.
      '@typescript-eslint/consistent-type-imports': 'off',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // The server, tests, tools and examples use the library as an app does: its public entry points.
    ignores: ['packages/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/packages/**', 'nestjs-wechat-token/*', '!nestjs-wechat-token/testing'],
              message:
                "Import the library's public API: 'nestjs-wechat-token' or 'nestjs-wechat-token/testing'.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'soak/**/*.ts', '**/*.spec.ts', 'demo.ts', 'examples/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The admin page: plain JavaScript run by the browser, as served (no build step).
    files: ['src/admin-ui/public/**/*.js'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
    // A console line is a console error to the page's tests, and never needed there.
    rules: { 'no-console': 'error' },
  },
);
