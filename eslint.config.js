// Lint gate: type-aware rules that catch what the compiler does not (a promise nobody awaits,
// an import cycle between source files). Formatting is prettier's job, not eslint's.
import { existsSync, readdirSync } from 'node:fs';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.turbo/**', '.test-results/**', 'test/consumer/project/**', '**/*.js', '**/*.mjs', '**/*.d.ts'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['./packages/*/tsconfig.test.json', './packages/test-utils/tsconfig.json', './test/tsconfig.json'], noWarnOnMultipleProjects: true })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-duplicates': 'error',
      // A package never reaches into another's folder: siblings are imported by name.
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+(packages/|[a-z-]+/(src|test)/)', message: 'import sibling packages by name (@ringkv/...), not by relative path' }] }],
    },
  },
  // One TypeScript program per workspace: each file is checked with its own workspace's
  // project (sources and tests), and linting one workspace never builds the others' programs.
  ...workspaceProjects().map(([dir, project]) => ({
    files: [`${dir}/**/*.ts`],
    languageOptions: { parserOptions: { project: `./${dir}/${project}` } },
  })),
);

function workspaceProjects() {
  const dirs = readdirSync(new URL('./packages/', import.meta.url)).map((d) => `packages/${d}`);
  return [...dirs, 'test']
    .map((dir) => [dir, ['tsconfig.test.json', 'tsconfig.json'].find((f) => existsSync(new URL(`./${dir}/${f}`, import.meta.url)))])
    .filter(([, project]) => project !== undefined);
}
