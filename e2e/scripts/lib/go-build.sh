# Shared by build-harness.sh and build-tools.sh: read a pinned module version and run `go build`
# with progress on standard error. Sourced, not run; the caller sets `started=$SECONDS` and a `tag`.

module_version() { # module_version <go.mod dir> <module path>
  (cd "$1" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go list -m -f '{{.Version}}' "$2")
}

# go_build <module dir> <label> <go build args...>: runs `go build -v` and reports progress every 50
# packages; exits the calling script when the build fails.
go_build() {
  local module="$1" label="$2"; shift 2
  echo "$tag: building $label (cold: several minutes on 2 cores; later runs reuse the Go caches)" >&2
  local compiled=0 line last=""
  while IFS= read -r line; do
    last="$line"
    case "$line" in
      "exit-status "*) ;;
      "go: "*|"#"*|*.go:[0-9]*) echo "$line" >&2 ;;
      *) compiled=$((compiled + 1))
         (( compiled % 50 == 0 )) && echo "$tag:   $label: $compiled packages compiled ($((SECONDS - started))s elapsed)" >&2 ;;
    esac
  done < <(cd "$module" && go build -v -trimpath "$@" 2>&1; echo "exit-status $?")
  [[ "$last" == "exit-status 0" ]] || { echo "$tag: building $label failed (go build $last)" >&2; exit 1; }
}
