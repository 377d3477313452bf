import type { components } from '$lib/api/openapi';

type DuplicateGroup = components['schemas']['DuplicateGroup'];

/** The files a group's review starts with picked: every copy but the suggested keeper's file. */
export function defaultPicks(group: DuplicateGroup): string[] {
  // Look-alikes are other photographs, not copies: the user picks, nothing is picked for them.
  if (group.reason === 'similar-scene') return [];
  return group.members.flatMap((m) => m.paths).filter((path) => path !== group.keep.path);
}

/** Every file of a group, in the order shown. */
export const filesOf = (group: DuplicateGroup) => group.members.flatMap((m) => m.paths);

/** A stable key for a group between two answers (its kind and pictures). */
export const groupKey = (group: DuplicateGroup) =>
  `${group.reason}:${group.members.map((m) => `${m.id}=${m.paths.join('|')}`).join(',')}`;
