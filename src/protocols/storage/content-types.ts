import {readFileSync} from 'node:fs'

/**
 * The Content-Type Swift gives an object PUT without one: Python's mimetypes.guess_type() of
 * its name, i.e. Python's built-in table (below, by type) overridden by the system's
 * /etc/mime.types where there is one, after taking off a compression suffix (.gz, .bz2, ...).
 */

const BUILT_IN: Record<string, string> = {
  'application/javascript': 'js mjs',
  'application/json': 'json',
  'application/manifest+json': 'webmanifest',
  'application/msword': 'doc dot wiz',
  'application/n-quads': 'nq',
  'application/n-triples': 'nt',
  'application/octet-stream': 'a bin dll exe o obj so',
  'application/oda': 'oda',
  'application/pdf': 'pdf',
  'application/pkcs7-mime': 'p7c',
  'application/postscript': 'ai eps ps',
  'application/trig': 'trig',
  'application/vnd.apple.mpegurl': 'm3u m3u8',
  'application/vnd.ms-excel': 'xlb xls',
  'application/vnd.ms-powerpoint': 'pot ppa pps ppt pwz',
  'application/wasm': 'wasm',
  'application/x-bcpio': 'bcpio',
  'application/x-cpio': 'cpio',
  'application/x-csh': 'csh',
  'application/x-dvi': 'dvi',
  'application/x-gtar': 'gtar',
  'application/x-hdf': 'hdf',
  'application/x-hdf5': 'h5',
  'application/x-latex': 'latex',
  'application/x-mif': 'mif',
  'application/x-netcdf': 'cdf nc',
  'application/x-pkcs12': 'p12 pfx',
  'application/x-pn-realaudio': 'ram',
  'application/x-python-code': 'pyc pyo',
  'application/x-sh': 'sh',
  'application/x-shar': 'shar',
  'application/x-shockwave-flash': 'swf',
  'application/x-sv4cpio': 'sv4cpio',
  'application/x-sv4crc': 'sv4crc',
  'application/x-tar': 'tar',
  'application/x-tcl': 'tcl',
  'application/x-tex': 'tex',
  'application/x-texinfo': 'texi texinfo',
  'application/x-troff': 'roff t tr',
  'application/x-troff-man': 'man',
  'application/x-troff-me': 'me',
  'application/x-troff-ms': 'ms',
  'application/x-ustar': 'ustar',
  'application/x-wais-source': 'src',
  'application/xml': 'rdf wsdl xpdl xsl',
  'application/zip': 'zip',
  'audio/3gpp': '3gp 3gpp',
  'audio/3gpp2': '3g2 3gpp2',
  'audio/aac': 'aac adts ass loas',
  'audio/basic': 'au snd',
  'audio/mpeg': 'mp2 mp3',
  'audio/opus': 'opus',
  'audio/x-aiff': 'aif aifc aiff',
  'audio/x-pn-realaudio': 'ra',
  'audio/x-wav': 'wav',
  'image/avif': 'avif',
  'image/bmp': 'bmp',
  'image/gif': 'gif',
  'image/heic': 'heic',
  'image/heif': 'heif',
  'image/ief': 'ief',
  'image/jpeg': 'jpe jpeg jpg',
  'image/png': 'png',
  'image/svg+xml': 'svg',
  'image/tiff': 'tif tiff',
  'image/vnd.microsoft.icon': 'ico',
  'image/x-cmu-raster': 'ras',
  'image/x-portable-anymap': 'pnm',
  'image/x-portable-bitmap': 'pbm',
  'image/x-portable-graymap': 'pgm',
  'image/x-portable-pixmap': 'ppm',
  'image/x-rgb': 'rgb',
  'image/x-xbitmap': 'xbm',
  'image/x-xpixmap': 'xpm',
  'image/x-xwindowdump': 'xwd',
  'message/rfc822': 'eml mht mhtml nws',
  'text/css': 'css',
  'text/csv': 'csv',
  'text/html': 'htm html',
  'text/n3': 'n3',
  'text/plain': 'bat c h ksh pl srt txt',
  'text/richtext': 'rtx',
  'text/tab-separated-values': 'tsv',
  'text/vtt': 'vtt',
  'text/x-python': 'py',
  'text/x-setext': 'etx',
  'text/x-sgml': 'sgm sgml',
  'text/x-vcard': 'vcf',
  'text/xml': 'xml',
  'video/mp4': 'mp4',
  'video/mpeg': 'm1v mpa mpe mpeg mpg',
  'video/quicktime': 'mov qt',
  'video/webm': 'webm',
  'video/x-msvideo': 'avi',
  'video/x-sgi-movie': 'movie',
}

/** Suffixes that stand for two (.tgz is .tar.gz). */
const SUFFIXES: Record<string, string> = {svgz: 'svg.gz', tgz: 'tar.gz', taz: 'tar.gz', tz: 'tar.gz', tbz2: 'tar.bz2', txz: 'tar.xz'}
/** Compression suffixes: the type is the one of the name without them. */
const ENCODINGS = new Set(['gz', 'Z', 'bz2', 'xz', 'br'])

let table: Map<string, string> | undefined

function types(): Map<string, string> {
  if (table) return table
  table = new Map()
  for (const [type, extensions] of Object.entries(BUILT_IN)) for (const ext of extensions.split(' ')) table.set(ext, type)
  let system = ''
  try {
    system = readFileSync('/etc/mime.types', 'utf8')
  } catch {
    // no system table: the built-in one alone
  }
  for (const line of system.split('\n')) {
    const [type, ...extensions] = line.replace(/#.*/, '').trim().split(/\s+/)
    if (type) for (const ext of extensions) table.set(ext, type)
  }
  return table
}

function extension(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  // A leading dot (".profile") is a name, not an extension.
  return dot > 0 && dot < base.length - 1 ? base.slice(dot + 1) : ''
}

export function guessContentType(name: string): string {
  let ext = extension(name)
  const expanded = SUFFIXES[ext] ?? SUFFIXES[ext.toLowerCase()]
  if (expanded !== undefined) {
    name = `${name.slice(0, name.length - ext.length)}${expanded}`
    ext = extension(name)
  }
  if (ENCODINGS.has(ext) || ENCODINGS.has(ext.toLowerCase())) {
    name = name.slice(0, name.length - ext.length - 1)
    ext = extension(name)
  }
  const known = types()
  return (ext && (known.get(ext) ?? known.get(ext.toLowerCase()))) || 'application/octet-stream'
}
