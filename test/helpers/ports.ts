import {createServer, type Server} from 'node:net'

/** n loopback ports that were free a moment ago (each bound to port 0, then released together). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < n; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', resolve)
      })
      ports.push((server.address() as {port: number}).port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  }
}

/** One loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1)
  return port
}

/**
 * The environment that moves the embedded default stack's services (stacks/default.yaml) to
 * free ports, so tests and benchmarks never take 8410 and 8780-8783 from a developer's own stack.
 */
export async function defaultStackPortsEnv(): Promise<Record<string, string>> {
  const [ci, proxy, node1, node2, node3] = await freePorts(5)
  return {
    TEND_CI_PORT: String(ci),
    TEND_STORAGE_PORT: String(proxy),
    TEND_STORAGE_NODE1_PORT: String(node1),
    TEND_STORAGE_NODE2_PORT: String(node2),
    TEND_STORAGE_NODE3_PORT: String(node3),
  }
}
