/**
 * A path for the writer's messages, or a function that finds it: the plan
 * keeps no path per entry, so a path is searched for only when a message
 * names it.
 */
export type Where = string | (() => string);

export function pathAt(w: Where): string {
  return typeof w === 'string' ? w : w();
}
