import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {ListingDb} from '../../../src/daemons/storage-node/listing-db.js'
import type {ListingItem} from '../../../src/daemons/storage-node/listing-pages.js'
import type {ObjectRow} from '../../../src/daemons/storage-node/listing-rows.js'

let dir: string
let db: ListingDb
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'listing-'))
  db = new ListingDb(join(dir, 'l.db'), () => 0)
})
afterEach(() => {
  db.close()
  rmSync(dir, {recursive: true, force: true})
})

const row = (name: string, ts: number, extra: Partial<ObjectRow> = {}): ObjectRow => ({
  account: 'AUTH_t',
  container: 'c',
  name,
  ts,
  size: 10,
  etag: 'e',
  contentType: 'text/plain',
  deleted: false,
  ...extra,
})
const names = (items: ListingItem<ObjectRow>[]) => items.map((i) => ('subdir' in i ? `[${i.subdir}]` : i.row.name))

describe('ListingDb', () => {
  beforeEach(() => {
    db.mergeContainer('AUTH_t', 'c', {putTs: 1})
    db.mergeObjects(['a', 'a/1', 'a/2', 'a0', 'b/x/1', 'b/y', 'c', 'é'].map((n, i) => row(n, 10 + i)))
  })

  it("clears a container's metadata when it is deleted, so one made again by its name starts without it", () => {
    db.mergeContainer('AUTH_t', 'acl', {putTs: 1, meta: {'x-container-read': ['test2', 1]}})
    db.mergeContainer('AUTH_t', 'acl', {deleteTs: 2})
    db.mergeContainer('AUTH_t', 'acl', {putTs: 3})
    expect(db.containerInfo('AUTH_t', 'acl')?.meta['x-container-read']).toEqual(['', 2])
    // Metadata written after the delete stays.
    db.mergeContainer('AUTH_t', 'acl', {meta: {'x-container-read': ['test3', 4]}, deleteTs: 2})
    expect(db.containerInfo('AUTH_t', 'acl')?.meta['x-container-read']).toEqual(['test3', 4])
  })

  it('lists in UTF-8 byte order with limit, marker and end_marker', () => {
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100}))).toEqual(['a', 'a/1', 'a/2', 'a0', 'b/x/1', 'b/y', 'c', 'é'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 2, marker: 'a/1'}))).toEqual(['a/2', 'a0'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, marker: 'a0', endMarker: 'c'}))).toEqual(['b/x/1', 'b/y'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 3, reverse: true}))).toEqual(['é', 'c', 'b/y'])
  })

  it('folds pseudo-directories with a delimiter, without skipping names just past them', () => {
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, delimiter: '/'}))).toEqual(['a', '[a/]', 'a0', '[b/]', 'c', 'é'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, prefix: 'b/', delimiter: '/'}))).toEqual(['[b/x/]', 'b/y'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, delimiter: '/', reverse: true}))).toEqual(['é', 'c', '[b/]', 'a0', '[a/]', 'a'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 2, delimiter: '/'}))).toEqual(['a', '[a/]'])
  })

  it('never lists again the subdir a listing resumes from, so paging by it ends (swift list --delimiter)', () => {
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, delimiter: '/', marker: 'a/'}))).toEqual(['a0', '[b/]', 'c', 'é'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, delimiter: '/', marker: 'b/'}))).toEqual(['c', 'é'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, delimiter: '/', marker: 'é'}))).toEqual([])
  })

  it('gives only the direct children of a folder with path=, not the folder itself nor subfolders', () => {
    db.mergeObjects([row('b/', 30), row('b/z/', 31)])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, path: 'b'}))).toEqual(['b/y', 'b/z/'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, path: 'b/'}))).toEqual(['b/y', 'b/z/'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 100, path: ''}))).toEqual(['a', 'a0', 'b/', 'c', 'é'])
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 1, path: 'b'}))).toEqual(['b/y'])
  })

  it('keeps the newest version of a row and the counts that go with it', () => {
    expect(db.containerInfo('AUTH_t', 'c')).toMatchObject({objectCount: 8, bytesUsed: 80})
    db.mergeObjects([row('a', 5, {size: 999})])
    expect(db.containerInfo('AUTH_t', 'c')).toMatchObject({objectCount: 8, bytesUsed: 80})
    db.mergeObjects([row('a', 100, {deleted: true, size: 0})])
    expect(db.containerInfo('AUTH_t', 'c')).toMatchObject({objectCount: 7, bytesUsed: 70})
    expect(names(db.listObjects('AUTH_t', 'c', {limit: 1}))).toEqual(['a/1'])
    expect(db.containerHasObjects('AUTH_t', 'c')).toBe(true)
  })

  it('merges container metadata per key by timestamp and hides deleted containers', () => {
    db.mergeContainer('AUTH_t', 'c', {meta: {'x-container-meta-color': ['blue', 5]}})
    db.mergeContainer('AUTH_t', 'c', {meta: {'x-container-meta-color': ['red', 3], 'x-container-meta-size': ['big', 4]}})
    expect(db.containerInfo('AUTH_t', 'c')?.meta).toEqual({'x-container-meta-color': ['blue', 5], 'x-container-meta-size': ['big', 4]})
    db.mergeContainer('AUTH_t', 'c', {deleteTs: 50})
    expect(db.containerInfo('AUTH_t', 'c')).toBeUndefined()
    db.mergeContainer('AUTH_t', 'c', {putTs: 60})
    expect(db.containerInfo('AUTH_t', 'c')).toBeDefined()
  })

  it('hands replication the rows changed since a sync point, and merges them elsewhere', () => {
    const other = new ListingDb(join(dir, 'other.db'), () => 0)
    const {rows, maxSeq} = db.sync.rowsSince(0, 1000)
    other.sync.mergeRows(rows)
    expect(names(other.listObjects('AUTH_t', 'c', {limit: 100}))).toEqual(names(db.listObjects('AUTH_t', 'c', {limit: 100})))
    expect(db.sync.rowsSince(maxSeq, 1000).rows.objects).toEqual([])
    db.mergeObjects([row('z', 99)])
    expect(db.sync.rowsSince(maxSeq, 1000).rows.objects.map((r) => r.name)).toEqual(['z'])
    // Paged: a table that fills its page bounds what the round may claim as synced.
    const page = db.sync.rowsSince(0, 3)
    expect(page.rows.objects.length).toBeLessThanOrEqual(3)
    expect(page.maxSeq).toBeLessThan(db.lastSeq)
    other.close()
  })

  it('gives two replicas with the same object rows the same container hash, in whatever order the rows came', () => {
    const other = new ListingDb(join(dir, 'other.db'), () => 0)
    // The same rows, reversed, one older version and a delete on the way.
    other.mergeObjects([row('c', 1)])
    other.mergeObjects(db.sync.rowsSince(0, 1000).rows.objects.reverse(), true)
    expect(other.containerHashes()).toEqual(db.containerHashes())
    db.mergeObjects([row('a', 100, {deleted: true, size: 0})])
    expect(other.containerHashes()['AUTH_t/c']).not.toBe(db.containerHashes()['AUTH_t/c'])
    other.mergeObjects([row('a', 100, {deleted: true, size: 0})])
    expect(other.containerHashes()).toEqual(db.containerHashes())
    // Replication leaves out the rows of containers the peer agrees on, up to that instant.
    const agreed = db.sync.agreedWith(other.containerHashes())
    expect(db.sync.rowsSince(0, 1000, agreed).rows.objects).toEqual([])
    db.mergeObjects([row('new', 200)])
    expect(db.sync.rowsSince(0, 1000, agreed).rows.objects.map((r) => r.name)).toEqual(['new'])
    expect(db.sync.rowsSince(0, 1000, db.sync.agreedWith(other.containerHashes())).rows.objects.length).toBe(9)
    // Reopened, the hash is the stored one.
    const before = db.containerHashes()
    db.close()
    db = new ListingDb(join(dir, 'l.db'), () => 0)
    expect(db.containerHashes()).toEqual(before)
    other.close()
  })
})
