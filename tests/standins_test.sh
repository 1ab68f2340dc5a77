#!/usr/bin/env bash
# Tests of the go, gh and helm stand-ins and of the protect-main hook (scripts/standins): every
# emulated command, the failure cases, the exact bytes of go.mod and Chart.lock edits, and the
# loud failure of anything not emulated.
# Usage: tests/standins_test.sh [STANDINS_DIR]. Prints one line per check; exits 1 at the first
# failure. Needs bash and git only (no network, no jq, no real go or gh).
set -euo pipefail

S=${1:-$(cd "$(dirname "$0")/../scripts/standins" && pwd)}
S=$(cd "$S" && pwd)
GO=$S/go GH=$S/gh HELM=$S/helm
tmp=$(mktemp -d "${TMPDIR:-/tmp}/standins-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A clean environment: no login, no log, no GitHub Actions, git without the user's config.
unset GH_TOKEN GITHUB_TOKEN GH_REPO CI GITHUB_ACTIONS GH_STANDIN_AUTOMERGE GH_STANDIN_USER \
  GH_STANDIN_STATE GH_STANDIN_REMOTE GH_STANDIN_MERGING GO_STANDIN_PROXY HELM_STANDIN_REGISTRY STANDIN_LOG_DIR GOTOOLCHAIN GOWORK \
  GO111MODULE GOFLAGS GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL \
  GIT_AUTHOR_DATE GIT_COMMITTER_DATE
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$tmp/gitconfig
git config --global user.name "Sandbox Release Manager"
git config --global user.email release-manager@sandbox.invalid
git config --global init.defaultBranch main
git config --global commit.gpgsign false
git config --global advice.detachedHead false
mkdir -p "$tmp/tmpdir"
export TMPDIR=$tmp/tmpdir

passed=0
OUT="" ERR="" RC=0 NAME=""
run() {  # run CMD...: OUT, ERR, RC
  set +e
  OUT=$("$@" 2>"$tmp/stderr")
  RC=$?
  set -e
  ERR=$(<"$tmp/stderr")
}
fail() {
  printf 'FAIL - %s: %s\n' "$NAME" "$1"
  printf '  exit %s\n  stdout: %s\n  stderr: %s\n' "$RC" "$OUT" "$ERR"
  printf '%s passed, 1 failed\n' "$passed"
  exit 1
}
ok() { passed=$((passed + 1)); printf 'ok %d - %s\n' "$passed" "$NAME"; }
matches() {  # matches TEXT PATTERN: a glob pattern, or "=TEXT" for an exact text
  if [[ $2 == =* ]]; then [ "$1" = "${2#=}" ]; return; fi
  # shellcheck disable=SC2053  # glob patterns on purpose
  [[ $1 == $2 ]]
}
# check NAME RC STDOUT STDERR [CMD...]: STDOUT and STDERR are patterns as matches takes them.
check() {
  NAME=$1
  local rc=$2 out=$3 err=$4
  shift 4
  [ $# -eq 0 ] || run "$@"
  [ "$RC" = "$rc" ] || fail "exit $RC, want $rc"
  matches "$OUT" "$out" || fail "stdout differs from: $out"
  matches "$ERR" "$err" || fail "stderr differs from: $err"
  ok
}
same_file() {  # same_file NAME GOT WANT
  NAME=$1
  cmp -s "$2" "$3" || { diff -u "$3" "$2" | head -40; fail "$2 differs from the expected bytes"; }
  ok
}
truth() {  # truth NAME CMD...: the command succeeds
  NAME=$1
  shift
  "$@" >/dev/null 2>&1 || fail "not true: $*"
  ok
}

# ============================================================================================
# go

KATA=github.com/kata-containers/kata-containers/src/runtime
OLD_KATA=v0.0.0-20251117210945-650ada7bcc8e
NEW_KATA=v0.0.0-20251212154512-47cd5ab3e9d1
cat >"$tmp/proxy" <<EOF
# kata tags are not Go module tags: the proxy answers with pseudo-versions
$KATA@3.23.0 $OLD_KATA

$KATA@3.24.0 $NEW_KATA
github.com/new/dep@latest v0.3.0
EOF
export GO_STANDIN_PROXY=$tmp/proxy
NOT_FOUND="go: go.mod file not found in current directory or any parent directory; see 'go help modules'"

mkdir -p "$tmp/nomod"
cd "$tmp/nomod"
check "go version outside a module" 0 "go version go1.24.10 linux/amd64" "" "$GO" version
check "go get outside a module fails like go" 1 "" \
  "go: go.mod file not found in current directory or any parent directory."$'\n\t'"'go get' is no longer supported outside a module."$'\n'* \
  "$GO" get "$KATA@3.24.0"
check "go mod tidy outside a module" 1 "" "$NOT_FOUND" "$GO" mod tidy
check "go list -m MODULE@QUERY works outside a module" 0 "$KATA $NEW_KATA" "" "$GO" list -m "$KATA@3.24.0"

# A realistic go.mod: direct block, indirect block, replace block, replace line.
caa=$tmp/work/src/cloud-api-adaptor
mkdir -p "$caa/pkg/adaptor"
cat >"$caa/go.mod" <<EOF
module github.com/confidential-containers/cloud-api-adaptor/src/cloud-api-adaptor

go 1.25.7

require (
	github.com/containerd/ttrpc v1.2.7
	$KATA $OLD_KATA
	github.com/stretchr/testify v1.10.0
	golang.org/x/sys v0.38.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
)

replace (
	github.com/confidential-containers/cloud-api-adaptor/src/cloud-providers => ../cloud-providers
	github.com/containerd/ttrpc => github.com/containerd/ttrpc v1.2.4
)

replace $KATA v0.0.0-20240101000000-000000000000 => ../kata-runtime
EOF
printf '%s\n' "github.com/containerd/ttrpc v1.2.7 h1:qIrroQvuOL9HQ1X6KHe2ohc7p+HP/0VE6XPU7elJRqY=" \
  "github.com/containerd/ttrpc v1.2.7/go.mod h1:YCXHsb32f+Sq5/72xHubdiJRQY9inL4a4ZQrAbN1q9o=" \
  "golang.org/x/sys v0.38.0 h1:3yZWxaJjBmCWXqhN1qh02AkOnCQ1poK6oF+a7xWL6Gc=" \
  "golang.org/x/sys v0.38.0/go.mod h1:OgkHotnGiDImocRcuBABYBEXf8A9a87e/uXjp9XT3ks=" >"$caa/go.sum"
cp "$caa/go.mod" "$tmp/go.mod.orig"
cp "$caa/go.sum" "$tmp/go.sum.orig"
cd "$caa/pkg/adaptor"  # go finds go.mod in a parent

check "go version in a module that needs go 1.25.7 runs that toolchain" 0 "go version go1.25.7 linux/amd64" "" "$GO" version
check "GOTOOLCHAIN=local refuses that module like go" 1 "" \
  "go: go.mod requires go >= 1.25.7 (running go 1.24.10; GOTOOLCHAIN=local)" env GOTOOLCHAIN=local "$GO" list -m
check "go list -m prints the main module" 0 "github.com/confidential-containers/cloud-api-adaptor/src/cloud-api-adaptor" "" "$GO" list -m
check "go list -m MODULE" 0 "$KATA $OLD_KATA" "" "$GO" list -m "$KATA"
check "go list -m -f {{.Version}} MODULE" 0 "$OLD_KATA" "" "$GO" list -m -f '{{.Version}}' "$KATA"
check "go list -m -f '{{.Path}} {{.Version}}' MODULE" 0 "golang.org/x/sys v0.38.0" "" "$GO" list -m -f '{{.Path}} {{.Version}}' golang.org/x/sys
check "go list -m shows the replacement that applies" 0 "github.com/containerd/ttrpc v1.2.7 => github.com/containerd/ttrpc v1.2.4" "" "$GO" list -m github.com/containerd/ttrpc
check "go list -m -f {{.Version}} MODULE@QUERY resolves through the proxy" 0 "$NEW_KATA" "" "$GO" list -m -f '{{.Version}}' "$KATA@3.24.0"
check "go list -m MODULE@vX.Y.Z without a proxy line is that version" 0 "golang.org/x/sys v0.99.0" "" "$GO" list -m golang.org/x/sys@v0.99.0
check "go list -m of a module go.mod does not require" 1 "" "go: module github.com/x/unknown: not a known dependency" "$GO" list -m github.com/x/unknown
check "go list -m of a replaced-only module is not a requirement" 1 "" \
  "go: module github.com/confidential-containers/cloud-api-adaptor/src/cloud-providers: not a known dependency" \
  "$GO" list -m github.com/confidential-containers/cloud-api-adaptor/src/cloud-providers
check "go list -m MODULE@unknown query" 1 "" "go: $KATA@3.99.0: invalid version: unknown revision 3.99.0" "$GO" list -m "$KATA@3.99.0"

check "go get an unknown revision fails" 1 "" "go: $KATA@3.99.0: invalid version: unknown revision 3.99.0" "$GO" get "$KATA@3.99.0"
same_file "go.mod untouched after the failed go get" "$caa/go.mod" "$tmp/go.mod.orig"
same_file "go.sum untouched after the failed go get" "$caa/go.sum" "$tmp/go.sum.orig"

check "go get MODULE@QUERY upgrades like go" 0 "" "go: upgraded $KATA $OLD_KATA => $NEW_KATA" "$GO" get "$KATA@3.24.0"
want=$(<"$tmp/go.mod.orig")
printf '%s\n' "${want/$'\t'$KATA $OLD_KATA/$'\t'$KATA $NEW_KATA}" >"$tmp/want"
same_file "go get changed only the version in the require block" "$caa/go.mod" "$tmp/want"
check "go.sum has the new module's lines, in go's order" 0 \
  "github.com/containerd/ttrpc v1.2.7 h1:*"$'\n'"github.com/containerd/ttrpc v1.2.7/go.mod h1:*"$'\n'"$KATA $NEW_KATA h1:*="$'\n'"$KATA $NEW_KATA/go.mod h1:*="$'\n'"golang.org/x/sys v0.38.0 h1:*"$'\n'"golang.org/x/sys v0.38.0/go.mod h1:*" \
  "" cat "$caa/go.sum"
cp "$caa/go.mod" "$tmp/go.mod.1"
cp "$caa/go.sum" "$tmp/go.sum.1"
check "go get of the version already required says nothing" 0 "" "" "$GO" get "$KATA@3.24.0"
same_file "go.mod unchanged by the no-op go get" "$caa/go.mod" "$tmp/go.mod.1"
same_file "go.sum unchanged by the no-op go get" "$caa/go.sum" "$tmp/go.sum.1"
check "go list -m sees the new version" 0 "$NEW_KATA" "" "$GO" list -m -f '{{.Version}}' "$KATA"

check "go get several modules: changes reported sorted by path" 0 "" \
  "go: upgraded github.com/gogo/protobuf v1.3.2 => v1.3.3"$'\n'"go: added github.com/new/dep v0.3.0"$'\n'"go: downgraded golang.org/x/sys v0.38.0 => v0.37.0" \
  "$GO" get golang.org/x/sys@v0.37.0 github.com/new/dep@latest github.com/gogo/protobuf@v1.3.3
cat >"$tmp/want" <<EOF
module github.com/confidential-containers/cloud-api-adaptor/src/cloud-api-adaptor

go 1.25.7

require (
	github.com/containerd/ttrpc v1.2.7
	$KATA $NEW_KATA
	github.com/stretchr/testify v1.10.0
	golang.org/x/sys v0.37.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/gogo/protobuf v1.3.3 // indirect
	github.com/new/dep v0.3.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
)

replace (
	github.com/confidential-containers/cloud-api-adaptor/src/cloud-providers => ../cloud-providers
	github.com/containerd/ttrpc => github.com/containerd/ttrpc v1.2.4
)

replace $KATA v0.0.0-20240101000000-000000000000 => ../kata-runtime
EOF
same_file "go get keeps // indirect, adds new modules as indirect in order, leaves replace alone" "$caa/go.mod" "$tmp/want"

check "go mod tidy succeeds" 0 "" "" "$GO" mod tidy
same_file "go mod tidy leaves go.mod alone" "$caa/go.mod" "$tmp/want"

cat >"$tmp/want.json" <<EOF
{
	"Module": {
		"Path": "github.com/confidential-containers/cloud-api-adaptor/src/cloud-api-adaptor"
	},
	"Go": "1.25.7",
	"Require": [
		{
			"Path": "github.com/containerd/ttrpc",
			"Version": "v1.2.7"
		},
		{
			"Path": "$KATA",
			"Version": "$NEW_KATA"
		},
		{
			"Path": "github.com/stretchr/testify",
			"Version": "v1.10.0"
		},
		{
			"Path": "golang.org/x/sys",
			"Version": "v0.37.0"
		},
		{
			"Path": "github.com/beorn7/perks",
			"Version": "v1.0.1",
			"Indirect": true
		},
		{
			"Path": "github.com/gogo/protobuf",
			"Version": "v1.3.3",
			"Indirect": true
		},
		{
			"Path": "github.com/new/dep",
			"Version": "v0.3.0",
			"Indirect": true
		},
		{
			"Path": "github.com/pmezard/go-difflib",
			"Version": "v1.0.0",
			"Indirect": true
		}
	],
	"Exclude": null,
	"Replace": [
		{
			"Old": {
				"Path": "github.com/confidential-containers/cloud-api-adaptor/src/cloud-providers"
			},
			"New": {
				"Path": "../cloud-providers"
			}
		},
		{
			"Old": {
				"Path": "github.com/containerd/ttrpc"
			},
			"New": {
				"Path": "github.com/containerd/ttrpc",
				"Version": "v1.2.4"
			}
		},
		{
			"Old": {
				"Path": "$KATA",
				"Version": "v0.0.0-20240101000000-000000000000"
			},
			"New": {
				"Path": "../kata-runtime"
			}
		}
	],
	"Retract": null,
	"Tool": null
}
EOF
"$GO" mod edit -json >"$tmp/got.json"
same_file "go mod edit -json prints go.mod as go does" "$tmp/got.json" "$tmp/want.json"

# The sandbox's shape: a single require line, toolchain line.
small=$tmp/work/src/csi-wrapper
mkdir -p "$small"
printf 'module example.com/csi-wrapper\n\ngo 1.24.0\n\ntoolchain go1.24.10\n\nrequire %s %s\n' "$KATA" "$OLD_KATA" >"$small/go.mod"
cd "$small"
check "go get on a single-line require" 0 "" "go: upgraded $KATA $OLD_KATA => $NEW_KATA" "$GO" get "$KATA@3.24.0"
printf 'module example.com/csi-wrapper\n\ngo 1.24.0\n\ntoolchain go1.24.10\n\nrequire %s %s\n' "$KATA" "$NEW_KATA" >"$tmp/want"
same_file "the require line is updated in place" "$small/go.mod" "$tmp/want"
check "go get of a new module next to a single direct line adds an indirect line" 0 "" \
  "go: added github.com/new/dep v0.3.0" "$GO" get github.com/new/dep@latest
printf '\nrequire github.com/new/dep v0.3.0 // indirect\n' >>"$tmp/want"
same_file "...as go writes it (a blank line, then the line)" "$small/go.mod" "$tmp/want"
check "go mod edit -json with Toolchain" 0 $'{\n\t"Module": {\n\t\t"Path": "example.com/csi-wrapper"\n\t},\n\t"Go": "1.24.0",\n\t"Toolchain": "go1.24.10",\n\t"Require": \\[*' "" "$GO" mod edit -json
check "go version: this go.mod needs no newer toolchain" 0 "go version go1.24.10 linux/amd64" "" "$GO" version

# One uncommented mixed block: go splits it into a direct and an indirect block.
mixed=$tmp/work/mixed
mkdir -p "$mixed"
printf 'module example.com/mixed\n\ngo 1.24.0\n\nrequire (\n\tgithub.com/b/ind v1.0.0 // indirect\n\tgithub.com/a/dir v1.0.0\n)\n' >"$mixed/go.mod"
cd "$mixed"
check "go get in a go.mod with one mixed block" 0 "" "go: upgraded github.com/a/dir v1.0.0 => v1.1.0" "$GO" get github.com/a/dir@v1.1.0
printf 'module example.com/mixed\n\ngo 1.24.0\n\nrequire github.com/a/dir v1.1.0\n\nrequire github.com/b/ind v1.0.0 // indirect\n' >"$tmp/want"
same_file "...splits it as modfile.SetRequireSeparateIndirect does" "$mixed/go.mod" "$tmp/want"
check "go get of the main module fails" 1 "" "go: can't request version \"v1.0.0\" of the main module (example.com/mixed)" "$GO" get example.com/mixed@v1.0.0

printf 'module example.com/bad\n\ngo 1.24.0\n\nfrobnicate x\n' >"$tmp/work/bad.mod"
mkdir -p "$tmp/work/bad" && mv "$tmp/work/bad.mod" "$tmp/work/bad/go.mod"
cd "$tmp/work/bad"
check "an unknown go.mod directive fails like go" 1 "" "go: errors parsing go.mod:"$'\n'"$tmp/work/bad/go.mod:5: unknown directive: frobnicate" "$GO" list -m

cd "$caa"
for args in "build ./..." "get -u $KATA@3.24.0" "get $KATA" "get $KATA@none" "list -m -json $KATA" "list -m -f {{.Dir}} $KATA" "list ./..." "list -m all" "mod download" "mod edit -fmt" "mod tidy -v" "env GOPATH"; do
  # shellcheck disable=SC2086  # split on purpose
  check "go $args: not emulated" 2 "" "go $args: not emulated by the relengine stand-in" "$GO" $args
done
before=$(cat go.mod)
check "nothing was changed by the refused commands" 0 "$before" "" cat go.mod

mkdir -p "$tmp/logs"
(cd "$caa" && STANDIN_LOG_DIR=$tmp/logs "$GO" list -m -f '{{.Version}}' "$KATA" >/dev/null)
(cd "$tmp/nomod" && STANDIN_LOG_DIR=$tmp/logs "$GO" version >/dev/null)
check "STANDIN_LOG_DIR: one line per go call" 0 "$caa: go list -m -f {{.Version}} $KATA"$'\n'"$tmp/nomod: go version" "" cat "$tmp/logs/go.log"

# ============================================================================================
# gh

remote=$tmp/github/cloud-api-adaptor.git
repo=$tmp/checkout
git init -q --bare -b main "$remote"
git init -q -b main "$repo"
cd "$repo"
echo "v0.17.0" >VERSION
git add VERSION
git commit -qm "Release 0.17.0"
git remote add upstream "$remote"
git push -q upstream main
export GH_STANDIN_STATE=$tmp/github/state GH_STANDIN_REMOTE=$remote
U=https://github.com/confidential-containers/cloud-api-adaptor
API=https://api.github.com/repos/confidential-containers/cloud-api-adaptor/releases
main_sha() { git --git-dir="$remote" rev-parse refs/heads/main; }

check "gh --version without a token" 0 "gh version 2.62.0 (stand-in)"$'\n'"https://github.com/cli/cli/releases/tag/v2.62.0" "" "$GH" --version
check "gh without a token fails like gh logged out" 4 "" \
  "To get started with GitHub CLI, please run:  gh auth login"$'\n'"Alternatively, populate the GH_TOKEN environment variable with a GitHub API authentication token." \
  "$GH" pr list
check "...and says so for automation when CI is set" 4 "" \
  "gh: To use GitHub CLI in automation, set the GH_TOKEN environment variable." env CI=true "$GH" release view v1.0.0
check "gh auth status without a token" 1 "" "You are not logged into any GitHub hosts. To log in, run: gh auth login" "$GH" auth status
check "GITHUB_TOKEN counts as a login" 0 "github.com"$'\n'"  ✓ Logged in to github.com account release-manager (GITHUB_TOKEN)"* "" \
  env GITHUB_TOKEN=secret "$GH" auth status
export GH_TOKEN=ghp_sandboxtoken
check "gh auth status" 0 "github.com"$'\n'"  ✓ Logged in to github.com account release-manager (GH_TOKEN)"$'\n'"  - Active account: true"$'\n'"  - Git operations protocol: https"$'\n'"  - Token: ghp_************"$'\n'"  - Token scopes: 'gist', 'read:org', 'repo', 'workflow'" "" \
  "$GH" auth status

# --- releases
check "gh release view of a missing release" 1 "" "release not found" "$GH" release view v0.8.0-alpha.1
touch "$GH_STANDIN_STATE/fail-release-create-once"
check "fail-release-create-once: the next create fails with a 502" 1 "" "HTTP 502: Bad Gateway ($API)" \
  "$GH" release create v0.8.0-alpha.1 --prerelease --title v0.8.0-alpha.1 --target "$(main_sha)"
truth "...the trigger file is removed" test ! -e "$GH_STANDIN_STATE/fail-release-create-once"
truth "...and no tag was created" test -z "$(git --git-dir="$remote" tag)"
sha=$(main_sha)
check "gh release create --prerelease --target SHA" 0 "$U/releases/tag/v0.8.0-alpha.1" "" \
  "$GH" release create v0.8.0-alpha.1 --prerelease --title v0.8.0-alpha.1 --target "$sha"
check "...creates a lightweight tag on the remote at the target" 0 "commit"$'\n'"$sha" "" \
  sh -c "git --git-dir='$remote' cat-file -t refs/tags/v0.8.0-alpha.1 && git --git-dir='$remote' rev-parse refs/tags/v0.8.0-alpha.1"
check "gh release create of an existing release fails like the API" 1 "" "HTTP 422: Validation Failed ($API)"$'\n'"Release.tag_name already exists" \
  "$GH" release create v0.8.0-alpha.1 --prerelease --target "$sha"
check "gh release view TAG" 0 "title:	v0.8.0-alpha.1"$'\n'"tag:	v0.8.0-alpha.1"$'\n'"draft:	false"$'\n'"prerelease:	true"$'\n'"author:	release-manager"$'\n'"created:	20??-??-??T??:??:??Z"$'\n'"published:	20??-??-??T??:??:??Z"$'\n'"url:	$U/releases/tag/v0.8.0-alpha.1"$'\n'"--" "" \
  "$GH" release view v0.8.0-alpha.1
check "gh release view --json (compact, sorted keys, as gh prints to a pipe)" 0 \
  "{\"isPrerelease\":true,\"name\":\"v0.8.0-alpha.1\",\"tagName\":\"v0.8.0-alpha.1\",\"targetCommitish\":\"$sha\",\"url\":\"$U/releases/tag/v0.8.0-alpha.1\"}" "" \
  "$GH" release view v0.8.0-alpha.1 --json url,tagName,name,isPrerelease,targetCommitish
check "gh release view --json --jq .isPrerelease" 0 "true" "" "$GH" release view v0.8.0-alpha.1 --json isPrerelease --jq .isPrerelease
check "gh release view -R OWNER/REPO --jq .url" 0 "$U/releases/tag/v0.8.0-alpha.1" "" "$GH" release view -R confidential-containers/cloud-api-adaptor v0.8.0-alpha.1 --json url -q .url
check "gh release create --verify-tag without the tag" 1 "" \
  "tag v0.8.0 doesn't exist in the repo confidential-containers/cloud-api-adaptor, aborting due to --verify-tag flag" \
  "$GH" release create v0.8.0 --verify-tag --notes "x"
check "gh release create --target with an unknown branch" 1 "" "HTTP 422: Validation Failed ($API)"$'\n'"Release.target_commitish is invalid" \
  "$GH" release create v0.8.0 --target no-such-branch --notes x
check "gh release create without --target tags the default branch (-R sets the URL)" 0 "https://github.com/someone/fork/releases/tag/v0.8.0" "" \
  "$GH" release create v0.8.0 -R someone/fork --title "v0.8.0" --notes-file "$repo/VERSION"
truth "...at main" test "$(git --git-dir="$remote" rev-parse refs/tags/v0.8.0)" = "$(main_sha)"
check "...targetCommitish is the default branch" 0 "main" "" "$GH" release view v0.8.0 --json targetCommitish --jq .targetCommitish
check "...the notes come from the file" 0 "v0.17.0" "" "$GH" release view v0.8.0 --json body --jq .body
check "...not a prerelease" 0 "false" "" "$GH" release view v0.8.0 --json isPrerelease --jq .isPrerelease

# --- pull requests
new_branch() {  # new_branch NAME FILE TEXT...: commits on a branch from main, pushes it
  local b=$1 f=$2
  shift 2
  git switch -q -C "$b" main
  local text
  for text in "$@"; do
    echo "$text" >>"$f"
    git add "$f"
    git -c user.name="Contributor" -c user.email=contributor@example.com commit -qm "$b: $text"
  done
  git push -q -f upstream "$b"
  git switch -q main
}
git pull -q --ff-only upstream main
new_branch release-pin-v0.8.0 pin.txt "pin the image" "pin the overlays"

check "gh pr create with a head branch not on the remote" 1 "" "pull request create failed: GraphQL: Head sha can't be blank*" \
  "$GH" pr create --base main --head nope --title t --body b
check "gh pr create without --body when not interactive" 1 "" "must provide \`--title\` and \`--body\`*" \
  "$GH" pr create --base main --head release-pin-v0.8.0 --title "t"
main_before=$(main_sha)
check "gh pr create" 0 "$U/pull/1" "" \
  "$GH" pr create --base main --head release-pin-v0.8.0 --title "Release v0.8.0: pin the CAA image" --body "Pins the overlays."
truth "...does not merge it" test "$(main_sha)" = "$main_before"
check "a second PR for the same head fails like gh" 1 "" \
  "a pull request for branch \"release-pin-v0.8.0\" into branch \"main\" already exists:"$'\n'"$U/pull/1" \
  "$GH" pr create --base main --head release-pin-v0.8.0 --title again --body again
git switch -q -C empty main && git push -q upstream empty && git switch -q main
check "gh pr create with no commits between base and head" 1 "" \
  "pull request create failed: GraphQL: No commits between main and empty (createPullRequest)" \
  "$GH" pr create --base main --head empty --title t --body b

check "gh pr list (tab-separated like gh to a pipe)" 0 "1	Release v0.8.0: pin the CAA image	release-pin-v0.8.0	OPEN	20??-??-??T??:??:??Z" "" "$GH" pr list
check "gh pr list --json FIELDS" 0 \
  "=[{\"baseRefName\":\"main\",\"headRefName\":\"release-pin-v0.8.0\",\"mergeCommit\":null,\"mergedAt\":null,\"number\":1,\"state\":\"OPEN\",\"title\":\"Release v0.8.0: pin the CAA image\",\"url\":\"$U/pull/1\"}]" "" \
  "$GH" pr list --json number,url,state,headRefName,baseRefName,title,mergeCommit,mergedAt
check "gh pr list --head --jq '.[0].number'" 0 "1" "" "$GH" pr list --head release-pin-v0.8.0 --json number --jq '.[0].number'
check "gh pr list --base other: nothing" 0 "=[]" "" "$GH" pr list --base other --json number
check "gh pr list --state merged --jq length" 0 "0" "" "$GH" pr list --state merged --json number --jq length
check "gh pr list --state bogus" 1 "" 'invalid argument "bogus" for "-s, --state" flag: valid values are {open|closed|merged|all}' "$GH" pr list --state bogus
check "gh pr view BRANCH --json state --jq .state" 0 "OPEN" "" "$GH" pr view release-pin-v0.8.0 --json state --jq .state
check "gh pr view: null prints an empty line, as gh --jq does" 0 "1" "" \
  sh -c "'$GH' pr view 1 --json mergeCommit --jq .mergeCommit.oid | wc -c"
check "gh pr view NUMBER" 0 "title:	Release v0.8.0: pin the CAA image"$'\n'"state:	OPEN"$'\n'"author:	release-manager"$'\n'"labels:	"$'\n'"assignees:	"$'\n'"reviewers:	"$'\n'"projects:	"$'\n'"milestone:	"$'\n'"number:	1"$'\n'"url:	$U/pull/1"$'\n'"additions:	2"$'\n'"deletions:	0"$'\n'"auto-merge:	disabled"$'\n'"--"$'\n'"Pins the overlays." "" \
  "$GH" pr view 1
check "gh pr view URL --json number" 0 '{"number":1}' "" "$GH" pr view "$U/pull/1" --json number
check "gh pr view of a branch without PR" 1 "" 'no pull requests found for branch "nope"' "$GH" pr view nope
check "gh pr view of a missing number" 1 "" "GraphQL: Could not resolve to a PullRequest with the number of 9. (repository.pullRequest)" "$GH" pr view 9

head_sha=$(git --git-dir="$remote" rev-parse refs/heads/release-pin-v0.8.0)
check "gh pr merge --rebase (a fast-forward was possible)" 0 "" "" "$GH" pr merge release-pin-v0.8.0 --rebase
tip=$(main_sha)
truth "...replays the commits as new commits" test "$tip" != "$head_sha"
check "...committer GitHub, authors and messages kept, on the old main" 0 \
  "Contributor <contributor@example.com>|GitHub <noreply@github.com>|release-pin-v0.8.0: pin the overlays"$'\n'"Contributor <contributor@example.com>|GitHub <noreply@github.com>|release-pin-v0.8.0: pin the image"$'\n'"Sandbox Release Manager <release-manager@sandbox.invalid>|Sandbox Release Manager <release-manager@sandbox.invalid>|Release 0.17.0" "" \
  git --git-dir="$remote" log --format='%an <%ae>|%cn <%ce>|%s' main
truth "...same trees as the PR's commits" test "$(git --git-dir="$remote" rev-parse "$tip^{tree}")" = "$(git --git-dir="$remote" rev-parse "$head_sha^{tree}")"
check "...mergeCommit.oid is the last replayed commit, state MERGED" 0 "$tip"$'\n'"MERGED" "" \
  sh -c "'$GH' pr view 1 --json mergeCommit --jq .mergeCommit.oid && '$GH' pr view 1 --json state --jq .state"
check "...mergedAt is set" 0 "20??-??-??T??:??:??Z" "" "$GH" pr view release-pin-v0.8.0 --json mergedAt --jq .mergedAt
truth "...the temporary clone is gone" test -z "$(ls -A "$TMPDIR")"
truth "...the head branch is kept without --delete-branch" git --git-dir="$remote" rev-parse -q --verify refs/heads/release-pin-v0.8.0
check "gh pr merge of a merged PR warns like gh" 0 "" "! Pull request confidential-containers/cloud-api-adaptor#1 was already merged" "$GH" pr merge 1 --rebase
check "gh pr list --state merged --jq '.[0].mergeCommit.oid'" 0 "$tip" "" "$GH" pr list --state merged --json mergeCommit --jq '.[0].mergeCommit.oid'
check "gh pr list (open by default) is empty now" 0 "" "" "$GH" pr list
check "gh pr merge needs a method when not interactive" 1 "" "--merge, --rebase, or --squash required when not running interactively" "$GH" pr merge 1
check "gh pr merge with two methods" 1 "" "only one of --merge, --rebase, or --squash can be enabled" "$GH" pr merge 1 --merge --squash

git pull -q --ff-only upstream main
new_branch post-release-v0.8.0 docs.md "docs for 0.8.0"
check "gh pr create -R OWNER/REPO (--body-file)" 0 "https://github.com/confidential-containers/cloud-api-adaptor/pull/2" "" \
  "$GH" pr create -R confidential-containers/cloud-api-adaptor --base main --head post-release-v0.8.0 --title "Post-release v0.8.0" --body-file "$repo/VERSION"
pr2_head=$(git --git-dir="$remote" rev-parse refs/heads/post-release-v0.8.0)
check "gh pr merge --merge --delete-branch" 0 "" "" "$GH" pr merge 2 --merge --delete-branch -R confidential-containers/cloud-api-adaptor
check "...a merge commit like GitHub's" 0 "Merge pull request #2 from confidential-containers/post-release-v0.8.0"$'\n\n'"Post-release v0.8.0"$'\n'"release-manager <release-manager@users.noreply.github.com>|GitHub <noreply@github.com>|$tip $pr2_head" "" \
  git --git-dir="$remote" log -1 --format='%B%an <%ae>|%cn <%ce>|%P' main
truth "...the remote head branch is deleted" test -z "$(git --git-dir="$remote" branch --list post-release-v0.8.0)"
check "...mergeCommit.oid is the merge commit" 0 "$(main_sha)" "" "$GH" pr view post-release-v0.8.0 --json mergeCommit --jq .mergeCommit.oid

git pull -q --ff-only upstream main
new_branch squashme sq.txt "one" "two"
"$GH" pr create --head squashme --title "Squash me" --body "" >/dev/null
before=$(main_sha)
check "gh pr merge --squash" 0 "" "" "$GH" pr merge squashme --squash
check "...one commit 'TITLE (#N)' on the old main" 0 "Squash me (#3)|$before" "" git --git-dir="$remote" log -1 --format='%s|%P' main

# Conflicts: nothing changes.
git pull -q --ff-only upstream main
new_branch conflict VERSION "from the branch"
echo "on main" >>VERSION && git commit -qam "main moves" && git push -q upstream main
"$GH" pr create --head conflict --title "Conflicting" --body "x" >/dev/null
before=$(main_sha)
check "gh pr merge --merge of a conflicting PR" 1 "" \
  "X Pull request confidential-containers/cloud-api-adaptor#4 is not mergeable: the merge commit cannot be cleanly created."$'\n'"To have the pull request merged after all the requirements have been met, add the \`--auto\` flag." \
  "$GH" pr merge conflict --merge
check "gh pr merge --rebase of a conflicting PR" 1 "" "GraphQL: This branch can't be rebased (mergePullRequest)" "$GH" pr merge 4 --rebase
truth "...main is unchanged" test "$(main_sha)" = "$before"
check "...the PR is still open" 0 "OPEN" "" "$GH" pr view conflict --json state --jq .state
truth "...and no temporary clone is left" test -z "$(ls -A "$TMPDIR")"

# github.com marks a PR merged when its head reaches the base by a push.
new_branch pushed p.txt "pushed"
"$GH" pr create --head pushed --title "Pushed" --body "x" >/dev/null
git push -q upstream pushed:main
check "a PR whose head is pushed to the base becomes MERGED" 0 "MERGED $(main_sha)" "" \
  sh -c "printf '%s %s\n' \"\$('$GH' pr view pushed --json state --jq .state)\" \"\$('$GH' pr view pushed --json mergeCommit --jq .mergeCommit.oid)\""

# --delete-branch without -R also deletes the local branch, leaving it for the base like gh.
git pull -q --ff-only upstream main
new_branch local-del l.txt "local"
git switch -q local-del
echo "dirty" >untracked.txt
check "gh pr create warns about uncommitted changes like gh" 0 "$U/pull/6" "Warning: 1 uncommitted change" \
  "$GH" pr create --head local-del --title "Local" --body x
rm untracked.txt
check "gh pr merge --squash --delete-branch on the PR's branch" 0 "" "" "$GH" pr merge --squash --delete-branch
# shellcheck disable=SC2016  # expanded by that sh
check "...switched to main, pulled, deleted the local branch" 0 "main $(main_sha)" "" \
  sh -c 'printf "%s %s\n" "$(git symbolic-ref --short HEAD)" "$(git rev-parse HEAD)"; ! git rev-parse -q --verify refs/heads/local-del'

# A protected main, as the sandbox's and the replays' remote have it (protect-main as its
# pre-receive hook): a direct push to main is refused as GitHub refuses it; branches and tags
# are pushed directly; the gh stand-in's merges (and a reviewer playing GitHub) get through.
cp "$S/protect-main" "$remote/hooks/pre-receive"
git pull -q --ff-only upstream main
protected_before=$(main_sha)
echo "direct" >>VERSION
git commit -qam "straight to main"
check "a direct push to the protected main is refused with GitHub's message" 1 "" \
  "remote: error: GH006: Protected branch update failed for refs/heads/main.*"$'\n'"remote: error: Changes must be made through a pull request.*"$'\n'" ! \\[remote rejected\\] main -> main (pre-receive hook declined)"$'\n'"error: failed to push some refs to *" \
  git push -q upstream main
truth "...main did not move" test "$(main_sha)" = "$protected_before"
check "deleting the protected main is refused too" 1 "" "remote: error: GH006: Protected branch update failed for refs/heads/main."* \
  git push -q upstream :main
check "other branches are pushed directly" 0 "" "" git push -q upstream HEAD:refs/heads/straight
check "tags are pushed directly" 0 "" "" sh -c "git tag protected-test && git push -q upstream protected-test"
check "GH_STANDIN_MERGING=1 (a push playing GitHub's merge) gets through" 0 "" "" env GH_STANDIN_MERGING=1 git push -q upstream main
truth "...main moved" test "$(main_sha)" = "$(git rev-parse HEAD)"
new_branch protected-pr p2.txt "through a pull request"
"$GH" pr create --head protected-pr --title "Protected" --body x >/dev/null
check "gh pr merge merges into the protected main" 0 "" "" "$GH" pr merge protected-pr --merge
check "...main holds the PR" 0 "Merge pull request #7 from confidential-containers/protected-pr" "" git --git-dir="$remote" log -1 --format=%s main

# GH_STANDIN_AUTOMERGE: the demo's quick reviewers (the main stays protected).
git pull -q --ff-only upstream main
new_branch quick q.txt "quick"
check "GH_STANDIN_AUTOMERGE=rebase merges at creation" 0 "$U/pull/8" "" env GH_STANDIN_AUTOMERGE=rebase "$GH" pr create --head quick --title Quick --body x
check "...state MERGED, on main" 0 "MERGED" "" "$GH" pr view quick --json state --jq .state
check "gh pr list --state all --jq '.[] | .number' (newest first)" 0 "8"$'\n'"7"$'\n'"6"$'\n'"5"$'\n'"4"$'\n'"3"$'\n'"2"$'\n'"1" "" "$GH" pr list --state all --json number --jq '.[] | .number'
check "gh pr list --state all --jq length" 0 "8" "" "$GH" pr list --state all --json number --jq length
check "--jq .[].FIELD on an array, objects print compact" 0 '{"oid":"'"$(main_sha)"'"}' "" "$GH" pr list --state merged --limit 1 --json mergeCommit --jq '.[].mergeCommit'
check "--jq .FIELD on an array fails like gojq" 1 "" "expected an object but got: array*" "$GH" pr list --json number --jq .number
check "--jq outside the subset is refused" 2 "" "gh pr list --json number --jq .[] | select(.number > 1): not emulated by the relengine stand-in" "$GH" pr list --json number --jq '.[] | select(.number > 1)'
check "--jq without --json" 1 "" "cannot use \`--jq\` without specifying \`--json\`" "$GH" pr view 1 --jq .state
check "--json with an unknown field" 1 "" "Unknown JSON field: \"bogus\""$'\n'"Available fields:"$'\n'"  additions"* "$GH" pr view 1 --json bogus
check "--json with a real field the stand-in does not emulate" 2 "" "gh pr view 1 --json author: not emulated by the relengine stand-in" "$GH" pr view 1 --json author

for args in "issue list" "repo view" "pr checkout 1" "pr create --head quick --title t --body b --draft" "release view" "release upload v0.8.0 x" "auth login" "api /user"; do
  # shellcheck disable=SC2086  # split on purpose
  check "gh $args: not emulated" 2 "" "gh $args: not emulated by the relengine stand-in" "$GH" $args
done

rm -f "$tmp/logs/gh.log"
STANDIN_LOG_DIR=$tmp/logs "$GH" pr view 1 --json number -q .number >/dev/null
STANDIN_LOG_DIR=$tmp/logs "$GH" --version >/dev/null
check "STANDIN_LOG_DIR: one line per gh call" 0 "gh pr view 1 --json number -q .number"$'\n'"gh --version" "" cat "$tmp/logs/gh.log"
truth "the state directory is in the documented format" test -f "$GH_STANDIN_STATE/pulls/1/headRefName" -a -f "$GH_STANDIN_STATE/releases/v0.8.0/targetCommitish"

# ============================================================================================
# helm

cd "$tmp/nomod"
check "helm version (v4.0.4, the tools.helm of versions.yaml)" 0 \
  'version.BuildInfo{Version:"v4.0.4", GitCommit:"8650e1dad9e6ae38b41f60b712af9218a0d8cc11", GitTreeState:"clean", GoVersion:"go1.25.5", KubeClientVersion:"v1.34"}' "" "$HELM" version
check "helm version --short" 0 "v4.0.4+g8650e1d" "" "$HELM" version --short

# The peer pods charts as they are at v0.22.0's start: an umbrella chart with the kata-deploy
# chart from an OCI registry and two subcharts of the tree (file://, aliased, with conditions).
charts=$tmp/helm/src
umbrella=$charts/cloud-api-adaptor/install/charts/peerpods
mkdir -p "$umbrella/providers" "$charts/peerpod-ctrl/chart" "$charts/webhook/chart"
umbrella_yaml() {  # umbrella_yaml KATA_DEPLOY SUBCHART_VERSION
  cat <<EOF
apiVersion: v2
name: peerpods
description: Cloud API Adaptor (Peerpods) Helm Chart
type: application
version: 0.3.1
appVersion: "v0.21.1"

keywords:
  - confidential-containers
  - peer-pods

maintainers:
  - name: Confidential Containers Community
    url: https://github.com/confidential-containers

dependencies:
  - name: kata-deploy
    version: "$1"
    repository: "oci://ghcr.io/kata-containers/kata-deploy-charts"
    condition: kata-deploy.enabled
  - name: peerpodctrl
    version: "$2"
    repository: "file://../../../../peerpod-ctrl/chart"
    alias: resourceCtrl
    condition: resourceCtrl.enabled
  - name: peerpods-webhook
    version: "$2"
    repository: "file://../../../../webhook/chart"
    alias: webhook
    condition: webhook.enabled
EOF
}
subchart_yaml() {  # subchart_yaml NAME VERSION
  printf 'apiVersion: v2\nname: %s\ndescription: a subchart\ntype: application\nversion: %s\nappVersion: "v0.21.1"\n\nkeywords:\n  - peerpods\n' "$1" "$2"
}
umbrella_yaml 4.0.0 0.3.1 >"$umbrella/Chart.yaml"
subchart_yaml peerpodctrl 0.3.1 >"$charts/peerpod-ctrl/chart/Chart.yaml"
subchart_yaml peerpods-webhook 0.3.1 >"$charts/webhook/chart/Chart.yaml"
printf '# oci charts the registry has\noci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy 3.31.0\noci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy 4.0.0 sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n' >"$tmp/registry"
export HELM_STANDIN_REGISTRY=$tmp/registry
cd "$tmp/helm"
check "helm dependency update CHART_DIR (as helm prints it)" 0 \
  "Saving 3 charts"$'\n'"Downloading kata-deploy from repo oci://ghcr.io/kata-containers/kata-deploy-charts"$'\n'"Deleting outdated charts" \
  "Pulled: ghcr.io/kata-containers/kata-deploy-charts/kata-deploy:4.0.0"$'\n'"Digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
  "$HELM" dependency update src/cloud-api-adaptor/install/charts/peerpods/
# The maintainers' Chart.lock of 6a8a61a9 (v0.22.0), digest included: helm's digest is the
# SHA-256 of the JSON of the requested and the locked dependencies, so it is reproducible.
cat >"$tmp/want" <<'EOF'
dependencies:
- name: kata-deploy
  repository: oci://ghcr.io/kata-containers/kata-deploy-charts
  version: 4.0.0
- name: peerpodctrl
  repository: file://../../../../peerpod-ctrl/chart
  version: 0.3.1
- name: peerpods-webhook
  repository: file://../../../../webhook/chart
  version: 0.3.1
digest: sha256:21f90168320c110da2a761d9091b80a6c3c2647ec1743073651eccaf811afe19
EOF
head -n 11 "$umbrella/Chart.lock" >"$tmp/got"
same_file "Chart.lock as helm writes it (the real digest of 6a8a61a9)" "$tmp/got" "$tmp/want"
check "...and the time it was generated, as Go marshals time.Now()" 0 \
  "generated: \"20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]*\"" "" tail -n 1 "$umbrella/Chart.lock"
check "...the charts saved in charts/" 0 "kata-deploy-4.0.0.tgz"$'\n'"peerpodctrl-0.3.1.tgz"$'\n'"peerpods-webhook-0.3.1.tgz" "" ls "$umbrella/charts"
check "...a subchart's archive holds the chart under its name" 0 "peerpodctrl/Chart.yaml" "" \
  sh -c "tar -tzf '$umbrella/charts/peerpodctrl-0.3.1.tgz' | grep -x 'peerpodctrl/Chart.yaml'"
cp "$umbrella/Chart.lock" "$tmp/lock.1"
check "helm dep up with nothing changed" 0 "Saving 3 charts"* "Pulled: *" "$HELM" dep up "$umbrella"
same_file "...leaves Chart.lock alone (same digest: not rewritten, generated kept)" "$umbrella/Chart.lock" "$tmp/lock.1"

# The chart version bump of 60be2d48: every chart 0.4.0, the umbrella's dependencies with them.
umbrella_yaml 4.0.0 0.4.0 >"$umbrella/Chart.yaml"
subchart_yaml peerpodctrl 0.4.0 >"$charts/peerpod-ctrl/chart/Chart.yaml"
check "a subchart whose version no longer satisfies the dependency fails like helm" 1 "" \
  "Error: can't get a valid version for 1 subchart(s): \"peerpods-webhook\" (repository \"file://../../../../webhook/chart\", version \"0.4.0\"). Make sure a matching chart version exists in the repo, or change the version constraint in Chart.yaml" \
  "$HELM" dependencies update "$umbrella"
same_file "...Chart.lock untouched" "$umbrella/Chart.lock" "$tmp/lock.1"
subchart_yaml peerpods-webhook 0.4.0 >"$charts/webhook/chart/Chart.yaml"
check "helm dependency update after the bump" 0 "Saving 3 charts"* "Pulled: *" "$HELM" dependency update "$umbrella"
check "...the lock has the maintainers' digest of 60be2d48" 0 "digest: sha256:69f57756cd2a199174cc3f63022e88a05e3015648f4b605184ec6f0ed7896324" "" \
  grep '^digest:' "$umbrella/Chart.lock"
check "...outdated charts deleted" 0 "kata-deploy-4.0.0.tgz"$'\n'"peerpodctrl-0.4.0.tgz"$'\n'"peerpods-webhook-0.4.0.tgz" "" ls "$umbrella/charts"

umbrella_yaml 9.9.9 0.4.0 >"$umbrella/Chart.yaml"
cp "$umbrella/Chart.lock" "$tmp/lock.2"
check "a kata-deploy version the registry does not have" 1 \
  "Saving 3 charts"$'\n'"Downloading kata-deploy from repo oci://ghcr.io/kata-containers/kata-deploy-charts"$'\n'"Save error occurred:  could not download oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy: ghcr.io/kata-containers/kata-deploy-charts/kata-deploy:9.9.9: not found" \
  "Error: could not download oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy: ghcr.io/kata-containers/kata-deploy-charts/kata-deploy:9.9.9: not found" \
  "$HELM" dependency update "$umbrella"
same_file "...Chart.lock untouched" "$umbrella/Chart.lock" "$tmp/lock.2"
truth "...no temporary charts directory left" test -z "$(find "$umbrella" -maxdepth 1 -name 'tmpcharts-*')"
umbrella_yaml 0.0.0-dev 0.4.0 >"$umbrella/Chart.yaml"
check "the development version 0.0.0-dev is not in a registry either" 1 "Saving 3 charts"* "Error: could not download *kata-deploy:0.0.0-dev: not found" \
  "$HELM" dependency update "$umbrella"

check "a directory without Chart.yaml" 1 "" "Error: Chart.yaml file is missing" "$HELM" dependency update "$charts"
check "a chart that does not exist" 1 "" "Error: could not find nope: stat nope: no such file or directory" "$HELM" dependency update nope
printf 'apiVersion: v2\nname: bad\nversion: 1.x\n' >"$tmp/helm/bad.yaml"
mkdir -p "$tmp/helm/bad" && mv "$tmp/helm/bad.yaml" "$tmp/helm/bad/Chart.yaml"
check "an invalid chart version fails helm's validation" 1 "" 'Error: validation: chart.metadata.version "1.x" is invalid' "$HELM" dependency update bad
mkdir -p "$tmp/helm/nodeps" && subchart_yaml lonely 1.0.0 >"$tmp/helm/nodeps/Chart.yaml"
check "a chart without dependencies: nothing to do, no lock" 0 "" "" "$HELM" dependency update nodeps
truth "...no Chart.lock" test ! -e "$tmp/helm/nodeps/Chart.lock"
mkdir -p "$tmp/helm/range" && printf 'apiVersion: v2\nname: range\nversion: 1.0.0\ndependencies:\n  - name: kata-deploy\n    version: ">=4.0.0"\n    repository: oci://ghcr.io/kata-containers/kata-deploy-charts\n' >"$tmp/helm/range/Chart.yaml"
check "a version range needs the registry's tags: not emulated" 2 "" "helm dependency update range: not emulated by the relengine stand-in (the version constraint '>=4.0.0')" \
  "$HELM" dependency update range
for args in "install peerpods $umbrella" "dependency build $umbrella" "dependency update --skip-refresh $umbrella" "registry login ghcr.io" "package $umbrella" "pull oci://ghcr.io/kata-containers/kata-deploy-charts/kata-deploy" "version --template {{.Version}}"; do
  # shellcheck disable=SC2086  # split on purpose
  check "helm $args: not emulated" 2 "" "helm $args: not emulated by the relengine stand-in" "$HELM" $args
done
rm -f "$tmp/logs/helm.log"
(cd "$tmp/nomod" && STANDIN_LOG_DIR=$tmp/logs "$HELM" version --short >/dev/null)
check "STANDIN_LOG_DIR: one line per helm call" 0 "$tmp/nomod: helm version --short" "" cat "$tmp/logs/helm.log"

printf '%s passed, 0 failed\n' "$passed"
