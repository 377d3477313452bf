/**
 * A failure the person can fix (bad flag, unknown model, missing file, offline): shown as one
 * line without a stack trace. Anything else is a bug and keeps its stack.
 */
export class UserError extends Error {
  override name = 'UserError';
}
