import {createReadStream} from 'node:fs'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {receiveBody} from './body.js'
import type {NodeContext} from './node-context.js'
import {
  type BodySegment,
  type ObjectTarget,
  type OpResult,
  deleteObject,
  getObject,
  postObject,
  putObject,
  putPrecheck,
} from './object-ops.js'
import {reply} from './reply.js'

/** The object server over plain HTTP: bodies stream in and out, so any size works. */
export async function handleObject(ctx: NodeContext, req: IncomingMessage, res: ServerResponse, target: ObjectTarget): Promise<void> {
  switch (req.method) {
    case 'PUT': {
      const refused = await putPrecheck(ctx, target, req.headers)
      if (refused) {
        req.resume()
        return send(res, refused)
      }
      const body = await receiveBody(req, {inlineMax: ctx.inlineMaxBytes, maxBytes: ctx.maxObjectBytes, tmpDir: target.device.store.tmpDir})
      // Replicators copy versions that are listed already.
      return send(res, await putObject(ctx, target, req.headers, body, {listing: req.headers['x-backend-replication'] !== 'true'}))
    }
    case 'GET':
    case 'HEAD':
      return send(res, await getObject(ctx, target, req.headers, req.method === 'HEAD'))
    case 'DELETE':
      return send(res, await deleteObject(ctx, target, req.headers))
    case 'POST':
      return send(res, await postObject(ctx, target, req.headers))
    default:
      return reply(res, 405)
  }
}

async function send(res: ServerResponse, result: OpResult): Promise<void> {
  if (!result.segments) return reply(res, result.status, result.headers)
  res.writeHead(result.status, result.headers)
  for (const segment of result.segments) {
    if (Buffer.isBuffer(segment)) res.write(segment)
    else if (!(await pipeFile(res, segment))) return
  }
  res.end()
}

/** Streams a byte range of a file with back-pressure; false if the client went away. */
function pipeFile(res: ServerResponse, segment: Exclude<BodySegment, Buffer>): Promise<boolean> {
  return new Promise((resolve) => {
    const stream = createReadStream(segment.path, {start: segment.start, end: segment.end, highWaterMark: 256 * 1024})
    const gone = () => {
      stream.destroy()
      resolve(false)
    }
    res.once('close', gone)
    stream.on('data', (chunk) => {
      if (!res.write(chunk)) {
        stream.pause()
        res.once('drain', () => stream.resume())
      }
    })
    stream.once('end', () => {
      res.off('close', gone)
      resolve(true)
    })
    stream.once('error', () => {
      res.off('close', gone)
      res.destroy()
      resolve(false)
    })
  })
}
