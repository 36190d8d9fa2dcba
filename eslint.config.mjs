// Layering that a tool checks: vscode only in extension/ and test/vscode/; the server (language
// server, bridge, agent, CLI) never imports the extension; the extension reaches the server's
// code only through its protocol and the neutral text modules (names, the report printer).
import tseslint from 'typescript-eslint';

const noVscode = { name: 'vscode', message: 'vscode belongs in extension/ (and test/vscode/): the server runs in other editors and on the command line.' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'test/fixtures/**', 'test/vscode/code-runner/**', '**/*.mjs', '**/*.js'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {},
  },
  {
    files: ['server/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [noVscode],
          patterns: [{ group: ['**/extension/**', '../extension', '../../extension'], message: 'server/ never imports extension/.' }],
        },
      ],
    },
  },
  {
    files: ['bench/**/*.ts', 'test/**/*.ts'],
    ignores: ['test/vscode/**'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [noVscode] }] },
  },
  {
    files: ['extension/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/server/*', '**/server/*/**', '!**/server/protocol', '!**/server/text', '!**/server/text/*'],
              message: 'The extension talks to the server over LSP: import only server/protocol and the neutral text modules.',
            },
          ],
        },
      ],
    },
  },
);
