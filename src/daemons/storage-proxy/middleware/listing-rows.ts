/**
 * Container listing rows (symlinks: `; symlink_target=...` shown as symlink_path,
 * symlink_etag and symlink_bytes) as Swift's middlewares show them. An object's listing row can
 * carry what a middleware stored in it (container-update overrides): `swift_bytes=N` in
 * the content type (a large object's total size, shown as its bytes, while the container's
 * bytes used count the manifest) and `; slo_etag=...` after the etag.
 */

type Row = Record<string, unknown> & {hash?: string; content_type?: string; bytes?: number}

export function showListingRows(rows: Row[], account: string): void {
  for (const row of rows) {
    const type = row.content_type
    if (typeof type === 'string' && type.includes('swift_bytes=')) {
      const params = type.split(';')
      const kept = [params[0]]
      for (const param of params.slice(1)) {
        const [key, value] = param.split('=')
        if (key.trim() === 'swift_bytes') row.bytes = Number(value)
        else kept.push(param)
      }
      row.content_type = kept.join(';')
    }
    const hash = row.hash
    if (typeof hash === 'string' && hash.includes(';')) {
      const [etag, ...params] = hash.split(';').map((p) => p.trim())
      const kept: string[] = []
      let target: string | undefined
      let targetAccount = account
      for (const param of params) {
        const equals = param.indexOf('=')
        const key = param.slice(0, equals)
        const value = param.slice(equals + 1)
        if (key === 'slo_etag') row.slo_etag = `"${value}"`
        else if (key === 'symlink_target') target = value
        else if (key === 'symlink_target_account') targetAccount = value
        else if (key === 'symlink_target_etag') row.symlink_etag = value
        else if (key === 'symlink_target_bytes') row.symlink_bytes = Number(value)
        else kept.push(`; ${param}`)
      }
      row.hash = etag + kept.join('')
      if (target !== undefined) row.symlink_path = `/v1/${targetAccount}/${target}`
    }
  }
}
