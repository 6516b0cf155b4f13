import {execa} from 'execa'
import type {StepAction} from '../../protocols/ci/worker-protocol.js'

type GitAction = Extract<StepAction, {type: 'git'}>

/**
 * A git source step, run by /bin/sh in the step's workdir like any step (so its output, timeout
 * and cancel work the same). The script is a constant and every value comes in through the
 * environment, so nothing from a config or a push is ever parsed by the shell.
 *
 * incremental: a checkout of the same repository already there (kept from the builder's last
 * build) is fetched into and moved to the revision; files the build made stay, as with
 * Buildbot's incremental mode. Otherwise, and always in full mode, the dir is emptied and cloned.
 */
const SCRIPT = `set -eu
say() { printf '[tend] %s\\n' "$*"; }
if [ "$TEND_GIT_MODE" = incremental ] && [ -d .git ] && [ "$(git config --get remote.origin.url || true)" = "$TEND_GIT_REPOSITORY" ]; then
  say "incremental: fetching into the checkout kept from an earlier build"
  git fetch --prune --force origin '+refs/heads/*:refs/remotes/origin/*'
else
  if [ -n "$(ls -A)" ]; then say "removing the previous contents of $PWD"; find . -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; fi
  say "cloning $TEND_GIT_REPOSITORY ($TEND_GIT_MODE)"
  git clone --no-checkout -- "$TEND_GIT_REPOSITORY" .
fi
if [ -n "$TEND_GIT_REVISION" ]; then
  target=$TEND_GIT_REVISION
  git cat-file -e "$target^{commit}" 2>/dev/null || git fetch origin "$target"
elif [ -n "$TEND_GIT_BRANCH" ]; then
  target=refs/remotes/origin/$TEND_GIT_BRANCH
else
  target=refs/remotes/origin/HEAD
fi
git rev-parse -q --verify "$target^{commit}" >/dev/null || { say "no commit $target in $TEND_GIT_REPOSITORY"; exit 1; }
git -c advice.detachedHead=false checkout --quiet --force --detach "$target"
say "checked out $(git rev-parse HEAD)"
`

/** The shell command and environment of a git step. */
export function gitCommand(action: GitAction): {run: string; env: Record<string, string>} {
  return {
    run: SCRIPT,
    env: {
      TEND_GIT_REPOSITORY: action.repository,
      TEND_GIT_MODE: action.mode,
      TEND_GIT_REVISION: action.revision ?? '',
      TEND_GIT_BRANCH: action.branch ?? '',
      // Never wait for a password nobody will type.
      GIT_TERMINAL_PROMPT: '0',
    },
  }
}

/** The commit checked out in `dir` (a git step's got_revision), or undefined if it cannot be read. */
export async function checkedOutRevision(dir: string): Promise<string | undefined> {
  const result = await execa('git', ['rev-parse', 'HEAD'], {cwd: dir, reject: false, timeout: 10_000, stdin: 'ignore'})
  const revision = String(result.stdout).trim()
  return result.exitCode === 0 && /^[0-9a-f]{40,64}$/.test(revision) ? revision : undefined
}
