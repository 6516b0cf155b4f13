/** FNV-1a, 32 bits: the agent's stable hash of names (cookies, namespace names) and event texts. */
export const FNV_BASIS = 0x811c9dc5

/** The hash of `h` followed by text[start, end) (from the start: h = FNV_BASIS). */
export function fnv1a(text: string, h = FNV_BASIS, start = 0, end = text.length): number {
  for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}
