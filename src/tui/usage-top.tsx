import {Box, render, Text, useApp, useInput} from 'ink'
import {useEffect, useState} from 'react'
import {errorMessage} from '../lib/errors.js'
import {topSnapshot, topTable, type TopSnapshot} from '../cli/usage/live.js'

interface Props {
  home: string
  instance?: string
  limit: number
  intervalMs: number
}

/** `tend usage top`: per-VM live rates, refreshed every interval; q or Ctrl+C quits. */
function UsageTop({home, instance, limit, intervalMs}: Props) {
  const {exit} = useApp()
  const [snapshot, setSnapshot] = useState<TopSnapshot | null>(null)
  const [error, setError] = useState<string | null>(null)
  useInput((input) => {
    if (input === 'q') exit()
  })
  useEffect(() => {
    let stopped = false
    let timer: NodeJS.Timeout | undefined
    const refresh = async () => {
      try {
        const next = await topSnapshot(home, {instance, limit})
        if (!stopped) {
          setSnapshot(next)
          setError(null)
        }
      } catch (e) {
        if (!stopped) setError(errorMessage(e))
      }
      if (!stopped) timer = setTimeout(refresh, intervalMs)
    }
    void refresh()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [home, instance, limit, intervalMs])
  const width = process.stdout.columns ?? 100
  const [header, ...rows] = snapshot ? topTable(snapshot, width).split('\n') : ['', 'connecting…']
  return (
    <Box flexDirection="column">
      <Text>
        <Text bold>tend usage top</Text>
        {snapshot ? `  ${snapshot.instance}  ${snapshot.at.slice(11, 19)}Z  (q to quit)` : ''}
      </Text>
      {error ? <Text color="red">{error}</Text> : null}
      <Text inverse>{header}</Text>
      {rows.map((line, i) => (
        <Text key={i}>{line}</Text>
      ))}
    </Box>
  )
}

export async function runUsageTop(props: Props): Promise<void> {
  const app = render(<UsageTop {...props} />)
  await app.waitUntilExit()
}
