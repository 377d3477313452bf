/**
 * Crash points for recovery tests: with LOOKALIKE_FAILPOINT=<name> the process kills itself
 * (SIGKILL, no clean-up) when it reaches `failpoint(name)`, e.g. between the catalog write and the
 * vector-index write. Unset in normal use, where this is one string comparison.
 */
export function failpoint(name: string): void {
  if (process.env.LOOKALIKE_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}
