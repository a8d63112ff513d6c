#!/usr/bin/env bash
# Bash fixture: functions, conditionals, heredoc, pipes, arrays.
set -euo pipefail

APP_NAME="${APP_NAME:-demo}"
TARGETS=(staging production)
LOG_DIR="/tmp/${APP_NAME}-deploy"

log() {
  local level="$1"; shift
  printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "$level" "$*" | tee -a "$LOG_DIR/deploy.log"
}

die() {
  log ERROR "$@"
  exit 1
}

check_target() {
  local target="$1"
  for t in "${TARGETS[@]}"; do
    [[ "$t" == "$target" ]] && return 0
  done
  return 1
}

write_manifest() {
  cat > "$LOG_DIR/manifest.txt" <<EOF_MANIFEST
app: ${APP_NAME}
target: $1
commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
EOF_MANIFEST
}

main() {
  local target="${1:-staging}"
  mkdir -p "$LOG_DIR"

  if ! check_target "$target"; then
    die "unknown target: $target"
  elif [[ "$target" == production && -z "${CONFIRM:-}" ]]; then
    die "set CONFIRM=1 to deploy to production"
  fi

  local count
  count=$(find . -name '*.py' -type f | grep -v '/test' | wc -l)
  log INFO "deploying ${count} python files to ${target}"

  write_manifest "$target"
  case "$target" in
    staging)    log INFO "using staging host" ;;
    production) log WARN "using production host" ;;
    *)          die "unreachable" ;;
  esac
  log INFO "done"
}

main "$@"
