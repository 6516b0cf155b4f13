import {Flags} from '@oclif/core'

/** Flags the `tend storage` commands share. */

export const ringFlag = Flags.string({
  description: "ring file [default: $TEND_HOME/storage/ring.json, the default stack's]",
  env: 'TEND_STORAGE_RING',
})

export const clientFlags = {
  auth: Flags.string({description: "auth URL [default: the running storage-proxy's /auth/v1.0]", env: 'ST_AUTH'}),
  user: Flags.string({char: 'U', description: 'account:user to authenticate as', env: 'ST_USER', default: 'test:tester'}),
  key: Flags.string({char: 'K', description: "the user's key", env: 'ST_KEY', default: 'testing'}),
  instance: Flags.string({description: 'storage-proxy instance to use when several run'}),
}
