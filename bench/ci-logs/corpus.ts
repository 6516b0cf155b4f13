import {gzipSync} from 'node:zlib'

/**
 * The benchmark's log text (BENCH.md, CI): a pool of 997 lines of 390 bytes of random lowercase
 * words (alphabet a-z_/.-, words of 2-12 characters), seeded. The words come from a seeded
 * vocabulary of 3,000, which puts gzip -9 on 64 KiB chunks at ~0.43 of raw: the ratio BENCH.md
 * gives for its corpus (a line of independent random letters would compress far less).
 */
export const POOL_LINES = 997
export const TEXT_BYTES = 390
const VOCABULARY = 3000
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz_/.-'

function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    // LCG (Numerical Recipes): plenty for picking words, and the same everywhere.
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

export function makePool(seed = 20170323): string[] {
  const rnd = random(seed)
  const vocabulary = Array.from({length: VOCABULARY}, () => {
    const length = 2 + Math.floor(rnd() * 11)
    let word = ''
    for (let i = 0; i < length; i++) word += ALPHABET[Math.floor(rnd() * ALPHABET.length)]
    return word
  })
  return Array.from({length: POOL_LINES}, () => {
    let text = ''
    while (text.length < TEXT_BYTES) text += (text ? ' ' : '') + vocabulary[Math.floor(rnd() * VOCABULARY)]
    return text.slice(0, TEXT_BYTES)
  })
}

/** Exactly what gen.pl prints for `lines` lines. */
export function expectedLog(lines: number, pool: string[]): Buffer {
  const parts: string[] = []
  for (let i = 1; i <= lines; i++) parts.push(`${String(i).padStart(8, '0')} ${pool[(i - 1) % POOL_LINES]}\n`)
  return Buffer.from(parts.join(''))
}

/** gzip -9 over 64 KiB chunks, as Buildbot 3.7 stores logs: the calibration figure. */
export function gzip9Ratio(text: Buffer): number {
  let stored = 0
  for (let offset = 0; offset < text.length; offset += 65536) stored += gzipSync(text.subarray(offset, offset + 65536), {level: 9}).length
  return stored / text.length
}
