#!/usr/bin/env bash
# Sets up a replay of a real cloud-api-adaptor release: DIR/real.git (the real repository of
# ../shared/fixtures/real, read-only to the replay), DIR/remote.git (github.com's copy, its main
# at BASE: where the release manager stood), DIR/cloud-api-adaptor (the release manager's clone,
# remote `upstream` with GitHub's URL, rewritten to remote.git by git's insteadOf), and the go, gh
# and helm stand-ins of scripts/standins in DIR/bin (gh never merges by itself: the test is the
# reviewer). remote.git's main is protected as on GitHub (scripts/standins/protect-main): a direct
# push to it is refused; the reviewer merges with GH_STANDIN_MERGING=1.
# Usage: tests/real/setup-replay.sh TARBALL BASE DIR PROXY_LINE...
#   PROXY_LINE: "MODULE@QUERY VERSION" lines for the go stand-in's module proxy, or
#   "oci://REGISTRY/PATH/NAME VERSION" lines for the helm stand-in's registry.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: setup-replay.sh TARBALL BASE DIR [PROXY_LINE...]" >&2; exit 2; }
tarball=$1 base=$2 dir=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
standins=$here/../../scripts/standins
[ -f "$tarball" ] || { echo "setup-replay.sh: no fixture $tarball (../shared must be beside the checkout)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
github_url=https://github.com/confidential-containers/cloud-api-adaptor.git

mkdir -p "$dir/unpack" "$dir/bin" "$dir/github" "$dir/calls"
tar -xzf "$tarball" -C "$dir/unpack"
real=$(find "$dir/unpack" -maxdepth 1 -name '*.git' -type d | head -n 1)
[ -n "$real" ] || { echo "setup-replay.sh: $tarball holds no bare repository" >&2; exit 1; }
mv "$real" "$dir/real.git"
rmdir "$dir/unpack"

# A copy of the real repository (the fixture is a shallow clone, and a shallow repository
# cannot push into an empty one), its main moved back to where the release began.
cp -a "$dir/real.git" "$dir/remote.git"
git -C "$dir/remote.git" update-ref refs/heads/main "$(git -C "$dir/real.git" rev-parse "$base^{commit}")"
cp "$standins/protect-main" "$dir/remote.git/hooks/pre-receive"

git -c "url.$dir/remote.git.insteadOf=$github_url" clone -q -o upstream "$github_url" "$dir/cloud-api-adaptor"
repo=$dir/cloud-api-adaptor
git -C "$repo" config "url.$dir/remote.git.insteadOf" "$github_url"
git -C "$repo" config user.name "Replay Release Manager"
git -C "$repo" config user.email "release-manager@replay.invalid"
git -C "$repo" config commit.gpgsign false
git -C "$repo" config tag.gpgsign false

cp "$standins/go" "$dir/bin/go.standin"
cp "$standins/gh" "$dir/bin/gh.standin"
cp "$standins/helm" "$dir/bin/helm.standin"
: > "$dir/goproxy"
: > "$dir/registry"
for line in "$@"; do
  case $line in
    oci://*) printf '%s\n' "$line" >> "$dir/registry" ;;
    *) printf '%s\n' "$line" >> "$dir/goproxy" ;;
  esac
done
cat > "$dir/bin/go" <<EOF
#!/usr/bin/env bash
export GO_STANDIN_PROXY="$dir/goproxy" STANDIN_LOG_DIR="$dir/calls"
exec "$dir/bin/go.standin" "\$@"
EOF
cat > "$dir/bin/gh" <<EOF
#!/usr/bin/env bash
export GH_STANDIN_STATE="$dir/github" GH_STANDIN_REMOTE="$dir/remote.git" STANDIN_LOG_DIR="$dir/calls" GH_STANDIN_AUTOMERGE=
exec "$dir/bin/gh.standin" "\$@"
EOF
cat > "$dir/bin/helm" <<EOF
#!/usr/bin/env bash
export HELM_STANDIN_REGISTRY="$dir/registry" STANDIN_LOG_DIR="$dir/calls"
exec "$dir/bin/helm.standin" "\$@"
EOF
chmod +x "$dir/bin/go" "$dir/bin/gh" "$dir/bin/helm"
