#!/usr/bin/env node
// Development entry: runs src/ through tsx. A manifest, when present, would make oclif
// use dist/ and hide new commands, so it is removed first.
import {rmSync} from 'node:fs'
import {execute} from '@oclif/core'

rmSync(new URL('../oclif.manifest.json', import.meta.url), {force: true})
await execute({development: true, dir: import.meta.url})
