# Sourced by compare.sh and instructions.sh: build_at REV DEST [current]
# builds bench/ at commit REV into the binary DEST, in a throw-away
# worktree; with "current", today's bench/ harness is built against the
# library at REV instead of REV's own harness.
build_at() {
  local rev=$1 dest=$2 harness=${3:-} root dir
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
  dir=$(mktemp -d)/src
  git -C "$root" worktree add -q --detach "$dir" "$rev"
  if [ "$harness" = current ]; then
    rm -rf "$dir/bench" && cp -r "$root/bench" "$dir/bench"
  fi
  (cd "$dir/bench" && go build -o "$dest" .)
  git -C "$root" worktree remove --force "$dir"
}
