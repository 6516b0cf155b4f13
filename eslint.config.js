// ESLint (flat config): what the type-check cannot see. Formatting is prettier's job and unused
// names are tsc's (noUnusedLocals, noUnusedParameters), so neither is repeated here. The rules
// need no type information, which keeps `npm run lint` cheap: type-aware rules would build the
// whole program a second time (~40 CPU-s) after `tsc`.
import js from '@eslint/js'
import reactHooks from 'eslint-plugin-react-hooks'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['**/dist/**', 'node_modules/**']},
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    // Hooks exist only in the Ink components (use* functions elsewhere are no hooks).
    files: ['**/*.tsx'],
    plugins: {'react-hooks': reactHooks},
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    files: ['bin/*.js'],
    languageOptions: {globals: {URL: 'readonly'}},
  },
)
