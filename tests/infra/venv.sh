# Sourced by the test-infrastructure start scripts: one way to keep a Python venv in step with a
# pinned requirements.txt. Expects `log`, `python` and `venv` from the caller; exits on failure.

# ensure_venv REQUIREMENTS (path relative to the repository, for messages; $root/REQUIREMENTS)
ensure_venv() {
  local requirements=$1 want stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$root/$requirements" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    if ! "$python" -m venv "$venv" >&2; then
      log "could not create a venv with '$python' (Python 3.10+ with venv needed; set PYTHON)"
      exit 1
    fi
  fi
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    log "installing $requirements into $venv"
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$root/$requirements" >&2; then
      log "could not install $requirements (is PyPI reachable?)"
      exit 1
    fi
    echo "$want" >"$stamp"
  fi
}
