// Failures of the build rather than of the code: a compile that cannot run, and a build folder
// that cannot be written, each said with what to do about it.
import type { CompileDiagnostic } from '../protocol';

export class CompileError extends Error {
  override name = 'CompileError';
}

const BUILD_FAULTS: Array<[RegExp, string]> = [
  [/no space left on device|enospc/i, 'The disk is full: free some space and save again.'],
  [/read-only file system|permission denied|eacces|erofs|not a directory|enotdir|could not make directory|could not write to file/i, 'The build folder cannot be written: check _build (or ebin/) and its permissions, then save again.'],
];

/** One line for a failed compile: its errors, and a hint where the build folder is at fault. */
export function compileFailure(c: { diagnostics: CompileDiagnostic[] }): string {
  const errors = c.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file ? `${d.file}:${d.line ?? ''}: ` : ''}${d.message}`);
  const text = errors.join('; ') || 'see the compiler output';
  const hint = BUILD_FAULTS.find(([re]) => re.test(text))?.[1];
  return `compile failed: ${text}${hint ? `. ${hint}` : ''}`;
}
